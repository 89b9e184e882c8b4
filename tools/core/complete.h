/*
 * complete: what completion/complete offers for an argument (CONTRACT §8):
 * instance ids from the database, agent profile names from the built-ins
 * and config agent.profiles, branch names from the repository. Each fills
 * a grove_name_list (db/queries.h) with at most `max` names that start with
 * `prefix` (byte for byte) and the total count of names that do.
 */
#ifndef GROVE_CORE_COMPLETE_H
#define GROVE_CORE_COMPLETE_H

#include <stddef.h>

#include "db/queries.h"
#include "tools/core/context.h"

/*
 * Instance ids starting with `prefix`, running ones first, then by id.
 * *out zeroed first; the caller frees it with db_name_list_free(), also
 * after a failure.
 */
int complete_instance_ids(grove_ctx *ctx, const char *prefix, size_t max, grove_name_list *out,
                          grove_err *err);

/*
 * Agent profile names starting with `prefix`: the built-ins and the keys of
 * config agent.profiles (as ctx_setting() gives it: ignored from an
 * untrusted database), sorted, unique. *out as above.
 */
int complete_profiles(grove_ctx *ctx, const char *prefix, size_t max, grove_name_list *out,
                      grove_err *err);

/*
 * Issues for a list of them ("12, 15, bd-a3f8": the orchestrate prompt's
 * argument): the last item of `value` is completed from the database
 * (db_issues_with_prefix()) and each value is the whole list with it
 * completed; issues already in the list are not offered again. *out as above.
 */
int complete_issues(grove_ctx *ctx, const char *value, size_t max, grove_name_list *out,
                    grove_err *err);

/* Local branch names starting with `prefix`, sorted. *out as above. */
int complete_branches(grove_ctx *ctx, const char *prefix, size_t max, grove_name_list *out,
                      grove_err *err);

/*
 * Adds `name` to *list as its caller keeps it: counted in total, stored
 * while fewer than `max` are. 0, or -1 when out of memory (err filled).
 */
int complete_add(grove_name_list *list, size_t max, const char *name, grove_err *err);

#endif
