/* The C API end to end: the bundled engine, a finding, a malformed record, a bad pack, four
 * threads sharing one engine, and every string and engine freed (run under valgrind by
 * tests/c_program.rs when it is installed). Exits 0 when every check passes. */
#include "rxguard.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                               \
        }                                                                             \
    } while (0)

/* A 70-year-old on baclofen 10 mg tid and oxycodone 5 mg q6h, both oral, as of 2026-11-01. */
static const char *PATIENT =
    "{\"id\": \"c-1\", \"birth_date\": \"1956-03-15\", \"conditions\": [], \"labs\": [],"
    " \"medications\": ["
    "  {\"id\": \"m1\", \"text\": \"Baclofen 10 mg tablet\", \"dose\": {\"value\": 10, \"unit\": \"mg\"},"
    "   \"frequency\": \"tid\", \"route\": \"oral\"},"
    "  {\"id\": \"m2\", \"text\": \"Oxycodone 5 mg tablet\", \"dose\": {\"value\": 5, \"unit\": \"mg\"},"
    "   \"frequency\": \"q6h\", \"route\": \"oral\"}"
    " ]}";

/* The same kind of patient as a FHIR R4 Bundle: an oxycodone order with a benzodiazepine. */
static const char *BUNDLE =
    "{\"resourceType\": \"Bundle\", \"entry\": ["
    " {\"resource\": {\"resourceType\": \"Patient\", \"id\": \"f-1\", \"birthDate\": \"1980-01-01\"}},"
    " {\"resource\": {\"resourceType\": \"MedicationRequest\", \"id\": \"oxy\", \"status\": \"draft\","
    "  \"medicationCodeableConcept\": {\"text\": \"oxycodone hydrochloride 5 MG Oral Tablet\"}}},"
    " {\"resource\": {\"resourceType\": \"MedicationRequest\", \"id\": \"lzp\", \"status\": \"active\","
    "  \"medicationCodeableConcept\": {\"text\": \"lorazepam 1 MG Oral Tablet\"}}}"
    "]}";

static const char *AS_OF = "2026-11-01";
static const char *FINDING = "\"baclofen_with_cns_depressant\"";

#define THREADS 4
#define CHECKS_PER_THREAD 25

static void *check_many(void *arg) {
    const RxEngine *engine = arg;
    intptr_t bad = 0;
    for (int i = 0; i < CHECKS_PER_THREAD; i++) {
        char *error = NULL;
        char *report = rxguard_check(engine, PATIENT, AS_OF, &error);
        if (report == NULL || error != NULL || strstr(report, FINDING) == NULL) {
            bad++;
        }
        rxguard_string_free(report);
        rxguard_string_free(error);
    }
    return (void *)bad;
}

int main(void) {
    const char *version = rxguard_version();
    CHECK(version != NULL && strlen(version) > 0);
    printf("rxguard %s\n", version);

    RxEngine *engine = rxguard_engine_bundled();
    CHECK(engine != NULL);
    if (engine == NULL) {
        return 1;
    }

    /* A patient with a finding. */
    char *error = (char *)"not reset";
    char *report = rxguard_check(engine, PATIENT, AS_OF, &error);
    CHECK(report != NULL);
    CHECK(error == NULL);
    CHECK(report != NULL && strstr(report, FINDING) != NULL);
    CHECK(report != NULL && strstr(report, "\"as_of\":\"2026-11-01\"") != NULL);
    rxguard_string_free(report);

    /* A FHIR Bundle: the finding points at its MedicationRequests. */
    report = rxguard_check(engine, BUNDLE, AS_OF, &error);
    CHECK(report != NULL && error == NULL);
    CHECK(report != NULL && strstr(report, "\"opioid_with_benzodiazepine\"") != NULL);
    CHECK(report != NULL && strstr(report, "MedicationRequest/oxy") != NULL);
    rxguard_string_free(report);

    /* as_of NULL: today. */
    report = rxguard_check(engine, PATIENT, NULL, &error);
    CHECK(report != NULL && error == NULL);
    rxguard_string_free(report);

    /* A malformed record: NULL and an error object. */
    error = NULL;
    report = rxguard_check(engine, "{\"id\": \"c-2\", \"medications\": [", AS_OF, &error);
    CHECK(report == NULL);
    CHECK(error != NULL && strncmp(error, "{\"error\":", 9) == 0);
    if (error != NULL) {
        printf("malformed record: %s\n", error);
    }
    rxguard_string_free(error);

    /* A date that does not exist, NULL arguments, text that is not UTF-8. */
    error = NULL;
    report = rxguard_check(engine, PATIENT, "2026-02-30", &error);
    CHECK(report == NULL && error != NULL);
    rxguard_string_free(error);
    error = NULL;
    report = rxguard_check(NULL, PATIENT, AS_OF, &error);
    CHECK(report == NULL && error != NULL);
    rxguard_string_free(error);
    error = NULL;
    report = rxguard_check(engine, NULL, AS_OF, &error);
    CHECK(report == NULL && error != NULL);
    rxguard_string_free(error);
    error = NULL;
    report = rxguard_check(engine, "{\"id\": \"\xff\"}", AS_OF, &error);
    CHECK(report == NULL && error != NULL && strstr(error, "UTF-8") != NULL);
    rxguard_string_free(error);
    report = rxguard_check(engine, NULL, AS_OF, NULL); /* no error wanted */
    CHECK(report == NULL);

    /* A pack that does not compile: NULL and diagnostics as JSON lines. */
    RxPack bad[] = {{"bad.rules", "pack bad \"Bad\" version \"1.0.0\"\nrule r {\n"}};
    char *diagnostics = NULL;
    RxEngine *bad_engine = rxguard_engine_from_packs(bad, 1, &diagnostics);
    CHECK(bad_engine == NULL);
    CHECK(diagnostics != NULL && strstr(diagnostics, "\"code\":\"E0") != NULL);
    CHECK(diagnostics != NULL && strstr(diagnostics, "bad.rules") != NULL);
    if (diagnostics != NULL) {
        printf("bad pack: %s", diagnostics);
    }
    rxguard_string_free(diagnostics);
    rxguard_engine_free(bad_engine); /* NULL: ignored */

    diagnostics = NULL;
    bad_engine = rxguard_engine_from_packs(NULL, 3, &diagnostics);
    CHECK(bad_engine == NULL && diagnostics != NULL);
    rxguard_string_free(diagnostics);

    /* The bundled packs with a site profile; a relation table that is not there is an error. */
    RxOptions options = {"name = \"Test site\"\nversion = \"1\"\n"
                         "[rules.baclofen_with_cns_depressant]\nenabled = false\n",
                         NULL};
    diagnostics = NULL;
    RxEngine *site = rxguard_engine_build(NULL, 0, &options, &diagnostics);
    CHECK(site != NULL && diagnostics == NULL);
    report = rxguard_check(site, PATIENT, AS_OF, &error);
    CHECK(report != NULL && strstr(report, "baclofen_with_cns_depressant") == NULL);
    rxguard_string_free(report);
    rxguard_engine_free(site);
    RxOptions missing = {NULL, "/nonexistent/relations.csv"};
    site = rxguard_engine_build(NULL, 0, &missing, &diagnostics);
    CHECK(site == NULL && diagnostics != NULL && strstr(diagnostics, "relations.csv") != NULL);
    rxguard_string_free(diagnostics);

    /* Four threads checking with one engine at once. */
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        CHECK(pthread_create(&threads[i], NULL, check_many, engine) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *bad_checks = NULL;
        CHECK(pthread_join(threads[i], &bad_checks) == 0);
        CHECK(bad_checks == NULL);
    }

    rxguard_engine_free(engine);
    rxguard_string_free(NULL);

    if (failures != 0) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
