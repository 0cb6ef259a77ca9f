#include "test/lib/suite_main.h"

#include <stdlib.h>

int
suite_main(Suite *s, bool nofork)
{
    SRunner *sr = srunner_create(s);
    int      failed;

    if (nofork)
        srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
