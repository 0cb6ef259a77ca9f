#include "test/lib/fixture.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

fixture
fixture_load(const char *relpath)
{
    fixture f = { NULL, 0 };
    char    path[1024];
    FILE   *fp;
    long    n;

    snprintf(path, sizeof(path), "%s/%s", CDC_FIXTURES, relpath);
    fp = fopen(path, "rb");
    if (fp == NULL)
        ck_abort_msg("fixture %s: cannot open", path);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f.data = malloc((size_t) n + 1);
    ck_assert_ptr_nonnull(f.data);
    if (n > 0 && fread(f.data, 1, (size_t) n, fp) != (size_t) n)
        ck_abort_msg("fixture %s: short read", path);
    f.data[n] = 0;
    f.len = (size_t) n;
    fclose(fp);
    return f;
}

void
fixture_free(fixture *f)
{
    free(f->data);
    f->data = NULL;
    f->len = 0;
}
