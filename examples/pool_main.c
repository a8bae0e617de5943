#include "memalloc.h"
#include <stdio.h>
int main() {
void* ptr1 = custom_malloc(100);
void* ptr2 = custom_malloc(200);
print_free_list();
custom_free(ptr1);
custom_free(ptr2);
print_free_list();
return 0;
}
