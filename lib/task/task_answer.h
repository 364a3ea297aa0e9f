/*
 * task_answer.h - a task read straight from the text of a DynamoDB answer.
 *
 * The consumer's claim (UpdateItem with ReturnValues ALL_NEW) answers with
 * the whole task item; reading it into a cJSON tree first costs about 140
 * allocations a run. tf_task_from_answer() reads the same answer with the
 * tree-less reader (base/json_scan.h): it finds each attribute the task uses
 * in one pass over the bytes, skips the others, and fills struct tf_task
 * exactly as tf_task_from_item() does from the tree (task.h), with the same
 * errors. Only the rare nested attributes (a params map that is not empty,
 * `result`, `schedule`, `priority`, lists with escapes or JSON numbers) are
 * parsed with cJSON, each on its own bytes.
 */
#ifndef TF_TASK_ANSWER_H
#define TF_TASK_ANSWER_H

#include <stddef.h>

#include "base/err.h"
#include "task/task.h"

/*
 * Reads the item in the top-level member `member` ("Attributes", "Item") of
 * the answer text (len bytes, borrowed) into *t. Returns TF_OK; TF_ERR_PARSE
 * when the text is not well-formed JSON (errbuf says what and at which
 * byte; nothing beyond len is read) or the item is not a task (errbuf names
 * the attribute, as tf_task_from_item() does); TF_ERR_NOT_FOUND when the
 * answer holds no such member; TF_ERR_NOMEM. The first of duplicate members
 * counts, as cJSON reads them. tf_task_free() the struct either way.
 */
enum tf_err tf_task_from_answer(const char *text, size_t len,
    const char *member, struct tf_task *t, char *errbuf, size_t errlen);

#endif /* TF_TASK_ANSWER_H */
