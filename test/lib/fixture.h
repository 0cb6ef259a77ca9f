/*
 * Test helpers shared by the unit suites: loading byte fixtures from
 * test/fixtures/.
 */
#ifndef CDC_TEST_LIB_FIXTURE_H
#define CDC_TEST_LIB_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

typedef struct fixture {
    uint8_t *data;   /* malloc'd; NUL-terminated for convenience */
    size_t   len;
} fixture;

/* Loads test/fixtures/<relpath>; aborts the test (ck_abort) when missing. */
fixture fixture_load(const char *relpath);
void    fixture_free(fixture *f);

#endif
