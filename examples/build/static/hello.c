/* A greeting and its arguments: small enough that a static build of it
   is well under a megabyte, and its output shows argv came through. */
#include <stdio.h>

int main(int argc, char **argv)
{
    printf("Hello from a static binary in a scratch image.\n");
    for (int i = 1; i < argc; i++)
        printf("argv[%d] = %s\n", i, argv[i]);
    return 0;
}
