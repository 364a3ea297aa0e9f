/* secrets.c - one secret string from Secrets Manager or SSM (secrets.h). */
#include "aws/secrets.h"

#include <string.h>

#include "base/alloc.h"

/* Copies the string at the path key (then key2 inside it, if not NULL) of
 * response into *out. TF_ERR_PARSE when it is not there. */
static enum tf_err
copy_string(const cJSON *response, const char *key, const char *key2,
    char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(response, key);

	if (key2 != NULL)
		v = cJSON_GetObjectItemCaseSensitive(v, key2);
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return TF_ERR_PARSE;
	*out = tf_strdup(v->valuestring);
	return *out != NULL ? TF_OK : TF_ERR_NOMEM;
}

/* Wipes the strings of o (a secret's answer) before it is freed. */
static void
wipe(cJSON *o)
{
	cJSON *e;

	for (e = o != NULL ? o->child : NULL; e != NULL; e = e->next) {
		if (cJSON_IsString(e) && e->valuestring != NULL)
			explicit_bzero(e->valuestring, strlen(e->valuestring));
		wipe(e);
	}
}

enum tf_err
tf_secrets_get_string(struct tf_aws *aws, const char *secret_id, char **out)
{
	cJSON *req = NULL, *resp = NULL;
	enum tf_err rc = TF_ERR_NOMEM;

	*out = NULL;
	req = cJSON_CreateObject();
	if (req == NULL || cJSON_AddStringToObject(req, "SecretId", secret_id) ==
	    NULL)
		goto out;
	rc = tf_aws_call(aws, TF_AWS_SECRETSMANAGER, "GetSecretValue", req, NULL,
	    &resp);
	if (rc == TF_OK)
		rc = copy_string(resp, "SecretString", NULL, out);
out:
	wipe(resp);
	cJSON_Delete(resp);
	cJSON_Delete(req);
	return rc;
}

enum tf_err
tf_ssm_get_parameter(struct tf_aws *aws, const char *name, char **out)
{
	cJSON *req = NULL, *resp = NULL;
	enum tf_err rc = TF_ERR_NOMEM;

	*out = NULL;
	req = cJSON_CreateObject();
	if (req == NULL || cJSON_AddStringToObject(req, "Name", name) == NULL ||
	    cJSON_AddTrueToObject(req, "WithDecryption") == NULL)
		goto out;
	rc = tf_aws_call(aws, TF_AWS_SSM, "GetParameter", req, NULL, &resp);
	if (rc == TF_OK)
		rc = copy_string(resp, "Parameter", "Value", out);
out:
	wipe(resp);
	cJSON_Delete(resp);
	cJSON_Delete(req);
	return rc;
}
