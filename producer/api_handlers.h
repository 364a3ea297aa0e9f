/*
 * api_handlers.h - the REST API's handlers, one a route and method
 * (internal to producer/api*.c): api.c routes the request, answers CORS
 * preflights, authorises it (key, scope, rates) and checks a task id before
 * it calls one. Each checks its query and body, replies (api_request.h)
 * and returns what MHD_queue_response() did. id: a valid task id,
 * borrowed for the call.
 */
#ifndef TF_PRODUCER_API_HANDLERS_H
#define TF_PRODUCER_API_HANDLERS_H

#include "api_request.h"
#include "task/task_manage.h"

/* GET /v1/tasks/{id} (api_tasks.c) */
enum MHD_Result api_get_task(struct rq *rq, const char *id);

/* DELETE /v1/tasks/{id} (api_tasks.c) */
enum MHD_Result api_delete_task(struct rq *rq, const char *id);

/* POST /v1/tasks/{id}/suspend|resume|run|retry (api_tasks.c): action, and
 * name, its word in the URL (borrowed). */
enum MHD_Result api_change_task(struct rq *rq, const char *id,
    enum tf_manage_action action, const char *name);

/* GET /v1/tasks (api_tasks.c) */
enum MHD_Result api_list_tasks(struct rq *rq);

/* PATCH /v1/tasks/{id} (api_tasks.c) */
enum MHD_Result api_patch_task(struct rq *rq, const char *id);

/* POST /v1/tasks, one task or a batch (api_create.c) */
enum MHD_Result api_post_tasks(struct rq *rq);

/* GET /v1/stats (api_stats.c) */
enum MHD_Result api_get_stats(struct rq *rq);

/* GET /v1/schedule/preview (api_preview.c) */
enum MHD_Result api_schedule_preview(struct rq *rq);

/* GET /v1/due, the due tasks' dry run (api_manage.c) */
enum MHD_Result api_get_due(struct rq *rq);

/* GET /v1/namespaces (api_manage.c) */
enum MHD_Result api_list_namespaces(struct rq *rq);

/* POST /v1/namespaces/{ns}/pause and /resume (api_manage.c): ns, borrowed,
 * as `taskfleet pause --ns` and `taskfleet resume --ns` (ns_pause.h). */
enum MHD_Result api_pause_namespace(struct rq *rq, const char *ns, bool pause);

/* DELETE /v1/namespaces/{ns}?confirm={ns} (api_manage.c): ns, borrowed,
 * as in the URL (checked here). */
enum MHD_Result api_clear_namespace(struct rq *rq, const char *ns);

/* GET /v1/dlq, the dead-letter queue's messages (api_dlq.c) */
enum MHD_Result api_list_dlq(struct rq *rq);

/* POST /v1/dlq/redrive, moving them back to the queue (api_dlq.c) */
enum MHD_Result api_redrive_dlq(struct rq *rq);
/* GET /v1/limits (api_limits.c): the table's limits per key. */
enum MHD_Result api_list_limits(struct rq *rq);

/* PUT (put) or DELETE /v1/limits/{key} (api_limits.c): key, borrowed, as
 * in the URL (checked here), as `taskfleet limit set` and `rm`. */
enum MHD_Result api_change_limit(struct rq *rq, const char *key, bool put);

#endif /* TF_PRODUCER_API_HANDLERS_H */
