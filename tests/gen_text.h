/*
 * tests/gen_text.h: what the tests that generate long models share: a
 * growable string to write the model text into, and a CPU-time clock to
 * time parsing with.
 */
#ifndef NABLA_TESTS_GEN_TEXT_H
#define NABLA_TESTS_GEN_TEXT_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A growable string for generated models. */
typedef struct text {
    char *s;
    size_t len, cap;
} text;

/* Appends s. */
static inline void put(text *t, const char *s)
{
    size_t n = strlen(s);
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        cr_assert_not_null(t->s);
    }
    memcpy(t->s + t->len, s, n + 1);
    t->len += n;
}

/* Appends s n times. */
static inline void put_n(text *t, const char *s, int n)
{
    for (int i = 0; i < n; i++) {
        put(t, s);
    }
}

/*
 * CPU seconds used by this process: the tests bound the work a deep model
 * costs (a quadratic step would take minutes), and CPU time, unlike the
 * wall clock, does not grow when other programs load the machine.
 */
static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif /* NABLA_TESTS_GEN_TEXT_H */
