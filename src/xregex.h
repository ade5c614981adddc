/* xregex.h — regular expressions matched in linear time (a Thompson NFA
 * simulated in lock-step, as in Pike's VM and RE2): the time to match is
 * O(pattern length x text length) whatever the pattern, so a mapping
 * cannot be made to hang by a value.
 *
 * Syntax, over Unicode code points of UTF-8 text: literals; `.` (any
 * character but a newline); classes `[abc]`, `[a-z0-9_]`, `[^...]`;
 * `\d \w \s` (ASCII digit, word, space) and `\D \W \S` outside classes;
 * `\n \t \r` and `\` before any other punctuation for itself; groups `(...)`
 * and `(?:...)`; alternation `|`; `*`, `+`, `?` (a lazy `?` after them is
 * accepted and changes nothing: only whether there is a match counts);
 * counted `{m}`, `{m,}`, `{m,n}` (m, n <= 100); anchors `^` and `$` (start
 * and end of the text). No backreferences, no lookaround. A match
 * anywhere in the text counts unless anchored. */
#ifndef WB_XREGEX_H
#define WB_XREGEX_H

#include <stdbool.h>
#include <stddef.h>

struct wb_regex;

/* Compiles p[0..n). NULL with a message in err (err_n bytes) naming the
 * problem and its 1-based character position in the pattern. */
struct wb_regex *wb_regex_compile(const char *p, size_t n, char *err,
				  size_t err_n);

/* Whether the pattern matches somewhere in s[0..n). Allocates nothing;
 * safe to call from several threads at once. */
bool wb_regex_search(const struct wb_regex *re, const char *s, size_t n);

void wb_regex_free(struct wb_regex *re); /* accepts NULL */

#endif
