/* PLACEHOLDER */
#include <stdio.h>
int main(void) { puts("lobo: not built yet"); return 1; }
