/* Spec 004's test application: two struct types, three scenarios, the reports after each. */
#include <stdio.h>
#include <string.h>

#include "UserAPI_MemoryManager.h"

typedef struct emp_ {
    char name[32];
    uint32_t emp_id;
} emp_t;

typedef struct student_ {
    char name[32];
    uint32_t rollno;
    uint32_t marks_phys;
    uint32_t marks_chem;
    uint32_t marks_maths;
    struct student_ *next;
} student_t;

static void report(const char *title)
{
    printf("\n===== %s =====\n", title);
    mm_print_memory_usage(NULL);
    mm_print_block_usage();
}

int main(void)
{
    mm_init();
    MM_REG_STRUCT(emp_t);
    MM_REG_STRUCT(student_t);
    mm_print_registered_page_families();

    /* Scenario 1: three employees and two students. */
    emp_t *emp1 = XCALLOC(1, emp_t);
    emp_t *emp2 = XCALLOC(1, emp_t);
    emp_t *emp3 = XCALLOC(1, emp_t);
    student_t *stud1 = XCALLOC(1, student_t);
    student_t *stud2 = XCALLOC(1, student_t);
    if (!emp1 || !emp2 || !emp3 || !stud1 || !stud2) {
        fprintf(stderr, "test_application: XCALLOC failed\n");
        return 1;
    }
    strcpy(emp1->name, "Ada");
    emp1->emp_id = 1;
    strcpy(emp2->name, "Grace");
    emp2->emp_id = 2;
    strcpy(emp3->name, "Edsger");
    emp3->emp_id = 3;
    strcpy(stud1->name, "Alan");
    stud1->rollno = 101;
    stud1->next = stud2;
    strcpy(stud2->name, "Barbara");
    stud2->rollno = 102;
    report("Scenario 1: 3 employees and 2 students allocated");

    /* Scenario 2: free emp1, emp3 and stud2. */
    XFREE(emp1);
    XFREE(emp3);
    XFREE(stud2);
    stud1->next = NULL;
    report("Scenario 2: emp1, emp3 and stud2 freed");

    /* Scenario 3: free the rest; every VM page goes back to the kernel. */
    XFREE(emp2);
    XFREE(stud1);
    report("Scenario 3: emp2 and stud1 freed");

    mm_family_stats_t all;
    mm_get_family_stats(NULL, &all);
    return all.pages == 0 && all.occupied_blocks == 0 ? 0 : 1;
}
