/* The main() of a unit test: runs one suite, TAP via CK_TAP_LOG_FILE_NAME (ctest sets it). */
#ifndef CDC_TEST_LIB_SUITE_MAIN_H
#define CDC_TEST_LIB_SUITE_MAIN_H

#include <check.h>
#include <stdbool.h>

/* Runs s (in forked children unless nofork) and frees it; @returns the exit status. */
int suite_main(Suite *s, bool nofork);

#endif
