/*
 * fuzz_responses.c - libFuzzer target for everything that parses AWS replies:
 * error bodies, ReceiveMessage replies, batch "Failed" lists and the item
 * accessors the engine reads DynamoDB replies with. Any input must be handled
 * without a crash, a leak or undefined behaviour.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/aws.h"
#include "aws/ddb.h"
#include "aws/sqs.h"
#include "base/alloc.h"
#include "base/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialised;
	struct tf_sqs_message *msgs = NULL;
	struct tf_sqs_batch_result res;
	char type[128], message[512];
	const cJSON *item;
	cJSON *doc;
	int64_t n;
	size_t count = 0, i;

	if (!initialised) {
		tf_alloc_init();
		tf_log_set_level(TF_LOG_ERROR + 1);
		initialised = 1;
	}
	tf_aws_parse_error_body((const char *)data, size, type, sizeof(type),
	    message, sizeof(message));
	if (strlen(type) >= sizeof(type) || strlen(message) >= sizeof(message))
		__builtin_trap();

	doc = cJSON_ParseWithLength((const char *)data, size);
	if (doc == NULL)
		return 0;
	if (tf_sqs_parse_receive(doc, &msgs, &count) == TF_OK) {
		for (i = 0; i < count; i++)
			if (msgs[i].body == NULL || msgs[i].receipt_handle == NULL)
				__builtin_trap();
		tf_sqs_messages_free(msgs, count);
	}
	memset(&res, 0, sizeof(res));
	tf_sqs_parse_failed(doc, &res);
	tf_sqs_batch_result_free(&res);
	item = cJSON_GetObjectItemCaseSensitive(doc, "Item");
	(void)tf_ddb_item_s(item, "id");
	(void)tf_ddb_item_n(item, "gen", &n);
	cJSON_Delete(doc);
	return 0;
}
