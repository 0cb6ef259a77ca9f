#include <stdio.h>

int main(void);

int
main(void)
{
    fprintf(stderr, "cdcagent: skeleton\n");
    return 1;
}
