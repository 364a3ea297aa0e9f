#!/usr/bin/env python3
"""infra_aws.py - checks infra/aws (Terraform) without Terraform or AWS.

- every .tf file parses with HashiCorp's HCL parser (npm @cdktf/hcl2json);
  every reference names a declared variable, local, resource, data source or
  iterator, used where it exists; resource arguments, blocks and referenced
  attributes exist in the AWS provider's schema (tests/infra/check-tf.js);
  nothing is declared and left unused; and the checker catches each kind of
  mistake in deliberately broken copies;
- the table, indexes and queues match what `taskfleet init` creates
  (lib/aws/schema.c) and docs/design.md section 2;
- the consumer's IAM policy allows exactly the AWS calls the consumer's code
  makes (tests/infra/aws_ops.py reads them from the C sources, following
  every call site through the wrappers that pass an operation on), on exactly
  the table, index and queue it uses; the producer's policy likewise for the
  CLI without `init`; the targets policy exactly the calls of the AWS
  target runners (lib/target), each kind's on its own target_* variable;
  and the call finder follows indirect calls in a small
  made-up tree and refuses calls it cannot follow;
- the ECS task definition, autoscaling, alarms, variables and outputs say
  what issue 8 asks for;
- the API (api.tf, issue 25): `taskfleet serve`'s own IAM policy allows
  exactly the AWS calls reachable from cmd_serve() (its API keys' source
  included), on the table, the indexes it queries, the queues and the key
  source only, on a task role of its own; an application load balancer with
  an HTTPS listener on the certificate variable (HTTP redirects), a target
  group whose health check is /readyz, the service started as `taskfleet
  serve` in the consumer's image, scaling on requests per task and CPU, and
  security groups that let only the load balancer reach the API port.
"""
import glob
import os
import re
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'infra'))
import aws_ops  # noqa: E402
from common import ROOT, result, finish, ensure_npm, check_tf  # noqa: E402

TF = os.path.join(ROOT, 'infra', 'aws')
SQS_BATCH = {'DeleteMessageBatch': 'DeleteMessage', 'SendMessageBatch': 'SendMessage',
             'ChangeMessageVisibilityBatch': 'ChangeMessageVisibility'}


def iam_actions(ops):
    """AWS operations -> IAM actions: SQS's batch calls are authorised by the
    single-message action (there is no sqs:DeleteMessageBatch permission),
    Lambda's Invoke by lambda:InvokeFunction."""
    out = set()
    for o in ops:
        svc, op = o.split(':')
        if svc == 'sqs':
            op = SQS_BATCH.get(op, op)
        if svc == 'lambda' and op == 'Invoke':
            op = 'InvokeFunction'
        out.add('%s:%s' % (svc, op))
    return out


def statements(model, name):
    return model['data']['aws_iam_policy_document'][name]['statement']


def policy_actions(model, name):
    acts = set()
    for st in statements(model, name):
        acts.update(st.get('actions', []))
    return acts


def compare(want, got):
    """None when equal, else what differs."""
    if want == got:
        return None
    return 'missing %s; not used by the code %s' % (sorted(want - got) or '-', sorted(got - want) or '-')


# Each IAM action of the targets policy -> the resources it must be granted on
# (the target_* variable of its kind), as hcl2json gives them.
TARGET_RESOURCES = {
    'sqs:GetQueueUrl': '${var.target_sqs_queue_arns}',
    'sqs:SendMessage': '${var.target_sqs_queue_arns}',
    'sns:Publish': '${var.target_sns_topic_arns}',
    'lambda:InvokeFunction': '${concat(var.target_lambda_function_arns, '
                             '[for arn in var.target_lambda_function_arns : "${arn}:*"])}',
    'events:PutEvents': '${var.target_event_bus_arns}',
    'states:StartExecution': '${var.target_state_machine_arns}',
    'states:DescribeExecution': '${local.target_execution_arns}',
    'sts:AssumeRole': '${var.target_role_arns}',
}


def check_targets_policy(model, res):
    """The targets policy: exactly the actions lib/target's calls need, each
    statement on its kind's variable and present only when it lists ARNs."""
    try:
        want = iam_actions(aws_ops.all_ops(ROOT, ('lib',), 'lib/target/'))
        # A task's role_arn: lib/target assumes it through lib/aws's role
        # provider (tf_creds_provider_new_role(), an STS AssumeRole).
        for f in glob.glob(os.path.join(ROOT, 'lib', 'target', '*.c')):
            if 'tf_creds_provider_new_role(' in open(f).read():
                want.add('sts:AssumeRole')
    except SystemExit as e:
        result('iam_targets_exactly_the_runners_call', False, e)
        return
    stmts = model['data']['aws_iam_policy_document']['targets']['dynamic']['statement']
    got = set()
    problems = []
    for st in stmts:
        body = dict(st['content'][0])
        if not isinstance(body['resources'], str):  # a literal list
            body['resources'] = repr(body['resources'])
        got.update(body['actions'])
        # the executions' ARNs derive from the state machines'
        var = re.search(r'var\.target_\w+', body['resources'].replace(
            'local.target_execution_arns', 'var.target_state_machine_arns'))
        for a in body['actions']:
            if body['resources'] != TARGET_RESOURCES.get(a):
                problems.append('%s on %s' % (a, body['resources']))
        if not var or not st['for_each'].startswith('${length(%s) > 0 ? [' % var.group(0)):
            problems.append('%s: for_each %s' % (body['actions'], st['for_each']))
    diff = compare(want, got)
    result('iam_targets_exactly_the_runners_call', diff is None and {'sns:Publish', 'lambda:InvokeFunction'} <= want,
           diff or 'runner ops %s' % sorted(want))
    result('iam_targets_only_their_resources', not problems, '; '.join(problems))
    ec2 = res['aws_iam_role_policy_attachment'].get('ec2_targets', {})
    result('iam_targets_attached_to_consumer_roles',
           res['aws_iam_policy']['targets']['count'] == '${local.any_target ? 1 : 0}'
           and ec2.get('policy_arn') == '${aws_iam_policy.targets[0].arn}'
           and ec2.get('role') == '${aws_iam_role.ec2[0].name}',
           'targets policy %s, ec2 attachment %s' % (res['aws_iam_policy']['targets'].get('count'), ec2))


def var_default(model, value):
    m = re.fullmatch(r'\$\{var\.(\w+)\}', str(value))
    return model['variable'][m.group(1)].get('default') if m else value


def c_create_table():
    import json
    src = open(os.path.join(ROOT, 'lib', 'aws', 'schema.c')).read()
    body = re.search(r'create_table_json\[\]\s*=(.*?);', src, re.S).group(1)
    text = ''.join(re.findall(r'"((?:[^"\\]|\\.)*)"', body)).replace('\\"', '"')
    return json.loads(text), src


def check_checker_catches():
    """Broken copies: each mutation must be reported in its category."""
    mutations = [
        ('undeclared_variable', 'sqs.tf', 'var.max_receive_count\n', 'var.max_recieve_count\n', 'refs'),
        ('undeclared_resource', 'outputs.tf', 'aws_sqs_queue.tasks["normal"].url\n', 'aws_sqs_queue.task["normal"].url\n', 'refs'),
        ('unknown_local', 'iam.tf', 'local.table_index_arns["by_due"]', 'local.table_index_arn["by_due"]', 'refs'),
        ('unindexed_count_resource', 'iam.tf', 'role = aws_iam_role.ec2[0].name', 'role = aws_iam_role.ec2.name', 'refs'),
        ('indexed_single_resource', 'outputs.tf', 'aws_dynamodb_table.tasks.name\n', 'aws_dynamodb_table.tasks[0].name\n', 'refs'),
        ('each_without_for_each', 'ecs.tf', 'weight            = 1\n  }\n}', 'weight            = each.value\n  }\n}', 'refs'),
        ('unbound_for_variable', 'ecs.tf', '{ name = k, value = local.consumer_environment[k] }', '{ name = k, value = local.consumer_environment[j] }', 'refs'),
        ('unknown_attribute', 'outputs.tf', 'aws_dynamodb_table.tasks.arn\n', 'aws_dynamodb_table.tasks.amr\n', 'attrs'),
        ('unknown_argument', 'sqs.tf', 'receive_wait_time_seconds  = 20', 'receive_wait_seconds = 20', 'schema'),
        ('unknown_block', 'dynamodb.tf', 'point_in_time_recovery {', 'point_in_time_recover {', 'schema'),
        ('missing_required_argument', 'ecs.tf', 'family                   = "${var.name}-consumer"\n', '\n', 'schema'),
        ('unknown_resource_type', 'alarms.tf', 'resource "aws_sns_topic" "alarms"', 'resource "aws_sns_topik" "alarms"', 'schema'),
        ('unused_variable', 'variables.tf', 'variable "tags" {', 'variable "never_used" {\n  type    = string\n  default = ""\n}\n\nvariable "tags" {', 'unused'),
        ('syntax_error', 'sqs.tf', 'resource "aws_sqs_queue" "dlq" {', 'resource "aws_sqs_queue" "dlq" {{', 'parse'),
        ('duplicate_resource', 'sqs.tf', 'resource "aws_sqs_queue" "tasks" {', 'resource "aws_sqs_queue" "dlq" {', 'declare'),
        ('moved_to_undeclared', 'sqs.tf', 'to   = aws_sqs_queue.tasks["high"]', 'to   = aws_sqs_queue.task["high"]', 'moved'),
        ('moved_to_unindexed', 'alarms.tf', 'to   = aws_cloudwatch_metric_alarm.oldest_message_age["normal"]',
         'to   = aws_cloudwatch_metric_alarm.oldest_message_age.arn', 'moved'),
    ]
    for name, fn, old, new, category in mutations:
        tmp = tempfile.mkdtemp(prefix='tf-broken-')
        try:
            for f in os.listdir(TF):
                if f.endswith('.tf'):
                    shutil.copy(os.path.join(TF, f), tmp)
            path = os.path.join(tmp, fn)
            text = open(path).read()
            if old not in text:
                result('tf_checker_catches_' + name, False, 'the text to break is gone from %s: %r' % (fn, old))
                continue
            open(path, 'w').write(text.replace(old, new, 1))
            try:
                got = check_tf(tmp)['checks']
            except RuntimeError as e:
                result('tf_checker_catches_' + name, False, e)
                continue
            result('tf_checker_catches_' + name, bool(got[category]),
                   'no %s problem reported for the broken copy; got %s' % (category, {k: v for k, v in got.items() if v}))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


# A made-up tree for the call finder: every operation reaches tf_aws_call
# through a wrapper whose first argument is no `aws` (as metrics.c's probe),
# a second one that fixes the service, a ternary and a local variable.
OPS_TREE = {
    'lib/aws/aws.c': 'enum tf_err\ntf_aws_call(struct tf_aws *aws, enum tf_aws_service svc, const char *operation,\n'
                 '    cJSON *request, const struct tf_aws_call_opts *opts, cJSON **response)\n{\n'
                 '\treturn send_signed(aws, svc, operation, request, opts, response);\n}\n',
    'lib/q.c': '/* probe(c, svc, op) */\nstatic int\nprobe(struct ctx *c, enum tf_aws_service svc, const char *what)\n{\n'
               '\treturn tf_aws_call(c->aws, svc, what, NULL, NULL, NULL);\n}\n\n'
               'static int\nrelay(struct ctx *c, const char *name)\n{\n\treturn probe(c, TF_AWS_SQS, name);\n}\n\n'
               'int\nq_ready(struct ctx *c, int batch)\n{\n'
               '\tconst char *op = batch ? "SendMessageBatch" : "SendMessage";\n\n'
               '\treturn probe(c, TF_AWS_DYNAMODB, "DescribeTable") + relay(c, op) +\n'
               '\t    relay(c, batch ? "PurgeQueue" : "DeleteQueue");\n}\n',
    'prog/main.c': 'int\nmain(void)\n{\n\treturn q_ready(NULL, 0);\n}\n',
}
OPS_TREE_WANT = {'dynamodb:DescribeTable', 'sqs:SendMessageBatch', 'sqs:SendMessage', 'sqs:PurgeQueue', 'sqs:DeleteQueue'}
# Ways to send an operation the finder cannot read: each must stop it.
OPS_UNFOLLOWABLE = {
    'operation_from_a_field': ('relay(c, op)', 'relay(c, c->op)'),
    'function_pointer': ('int\nq_ready', 'static int (*relay_fn)(struct ctx *, const char *) = relay;\n\nint\nq_ready'),
    'macro': ('int\nq_ready', '#define RELAY(c) \\\n\trelay(c, "ListQueues")\n\nint\nq_ready'),
}


def ops_in_tree(files):
    """aws_ops.analyse() on a tree made of files; (ops, None) or (None, error)."""
    tmp = tempfile.mkdtemp(prefix='aws-ops-')
    try:
        for rel, text in files.items():
            os.makedirs(os.path.join(tmp, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(tmp, rel), 'w') as f:
                f.write(text)
        return aws_ops.analyse(tmp, 'prog')[0], None
    except SystemExit as e:
        return None, str(e)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_ops_finder():
    """The call finder on the made-up tree, then on broken copies of it."""
    ops, err = ops_in_tree(OPS_TREE)
    result('aws_ops_follows_indirect_calls', ops == OPS_TREE_WANT,
           'found %s, want %s' % (err or sorted(ops or ()), sorted(OPS_TREE_WANT)))
    missed = []
    for name, (old, new) in OPS_UNFOLLOWABLE.items():
        files = dict(OPS_TREE)
        assert old in files['lib/q.c'], name
        files['lib/q.c'] = files['lib/q.c'].replace(old, new, 1)
        ops, err = ops_in_tree(files)
        if err is None:
            missed.append('%s (found %s)' % (name, sorted(ops)))
    result('aws_ops_refuses_what_it_cannot_follow', not missed, 'no error for: %s' % '; '.join(missed))


def main():
    check_ops_finder()
    why = ensure_npm()
    if not result('infra_npm_tools', why is None, why):
        return
    try:
        out = check_tf(TF)
    except RuntimeError as e:
        result('tf_checker_runs', False, e)
        return
    checks, model = out['checks'], out['model']
    result('tf_files_found', len(out['files']) >= 5, 'only %s' % out['files'])
    for cat, label in [('parse', 'tf_every_file_parses'), ('declare', 'tf_no_duplicate_declarations'),
                       ('refs', 'tf_every_reference_declared'), ('attrs', 'tf_referenced_attributes_exist'),
                       ('schema', 'tf_arguments_match_aws_provider_schema'), ('unused', 'tf_no_unused_variables_or_locals'),
                       ('moved', 'tf_moved_blocks_name_declared_resources')]:
        result(label, not checks[cat], '; '.join(checks[cat][:10]))
    check_checker_catches()

    res = model['resource']
    # --- the table -----------------------------------------------------------
    want, schema_src = c_create_table()
    t = res['aws_dynamodb_table']['tasks']
    problems = []
    attrs = {a['name']: a['type'] for a in t['attribute']}
    if attrs != {a['AttributeName']: a['AttributeType'] for a in want['AttributeDefinitions']}:
        problems.append('attributes %s' % attrs)
    if t['hash_key'] != 'id' or want['KeySchema'] != [{'AttributeName': 'id', 'KeyType': 'HASH'}] or 'range_key' in t:
        problems.append('key schema')
    if t['billing_mode'] != want['BillingMode']:
        problems.append('billing mode %s' % t['billing_mode'])
    gsis = {g['name']: g for g in t['global_secondary_index']}
    for w in want['GlobalSecondaryIndexes']:
        g = gsis.pop(w['IndexName'], None)
        keys = {k['KeyType']: k['AttributeName'] for k in w['KeySchema']}
        if g is None:
            problems.append('index %s missing' % w['IndexName'])
            continue
        if g['hash_key'] != keys['HASH'] or g.get('range_key') != keys.get('RANGE'):
            problems.append('index %s keys' % w['IndexName'])
        if g['projection_type'] != w['Projection']['ProjectionType'] or \
                sorted(g.get('non_key_attributes', [])) != sorted(w['Projection'].get('NonKeyAttributes', [])):
            problems.append('index %s projection' % w['IndexName'])
    if gsis:
        problems.append('indexes init does not make: %s' % list(gsis))
    result('table_matches_taskfleet_init', not problems, '; '.join(problems))
    # init enables TTL on TF_SCHEMA_TTL_ATTRIBUTE (lib/aws/schema.h).
    with open(os.path.join(ROOT, 'lib', 'aws', 'schema.h')) as f:
        ttl_attr = 'tf_ddb_update_ttl(aws, o->table, TF_SCHEMA_TTL_ATTRIBUTE' in schema_src and \
            re.search(r'#define TF_SCHEMA_TTL_ATTRIBUTE "(\w+)"', f.read())
    ttl = t.get('ttl', [{}])[0]
    result('table_ttl_on_ttl_attribute', ttl_attr and ttl.get('attribute_name') == ttl_attr.group(1) and ttl.get('enabled') is True,
           'ttl block %s, init uses %s' % (ttl, ttl_attr and ttl_attr.group(1)))
    pitr = t.get('point_in_time_recovery', [{}])[0].get('enabled')
    result('table_point_in_time_recovery', var_default(model, pitr) is True, 'enabled = %s' % pitr)
    sse = t.get('server_side_encryption', [{}])[0].get('enabled')
    result('table_encryption', sse is True, 'server_side_encryption.enabled = %s' % sse)
    result('table_name_default_is_consumer_default', var_default(model, t['name']) == 'taskfleet-tasks', t['name'])

    # --- the queues ------------------------------------------------------------
    q, dlq = res['aws_sqs_queue']['tasks'], res['aws_sqs_queue']['dlq']
    names = model['locals'].get('task_queue_names', {}).get('value', {})
    result('dlq_named_like_init', dlq['name'] == '${var.queue_name}-dlq' and names.get('normal') == '${var.queue_name}'
           and '"%s-dlq", o->queue_name' in schema_src, 'queue %s, dlq %s' % (q['name'], dlq['name']))
    rp = q.get('redrive_policy', '')
    mrc = re.search(r'max_receive_count > 0 \?\s*o->max_receive_count : (\d+)', schema_src)
    result('queue_redrive_policy', 'deadLetterTargetArn = aws_sqs_queue.dlq.arn' in rp and 'maxReceiveCount     = var.max_receive_count' in rp
           and mrc and model['variable']['max_receive_count']['default'] == int(mrc.group(1)),
           'redrive_policy %r, init default %s' % (rp, mrc and mrc.group(1)))
    result('queues_encrypted', q.get('sqs_managed_sse_enabled') is True and dlq.get('sqs_managed_sse_enabled') is True,
           'sqs_managed_sse_enabled: queue %s dlq %s' % (q.get('sqs_managed_sse_enabled'), dlq.get('sqs_managed_sse_enabled')))
    ret = re.findall(r'"MessageRetentionPeriod", "(\d+)"', schema_src)
    result('queue_retention_like_init', ret and all(int(r) == model['variable']['message_retention_seconds']['default'] for r in ret)
           and q['message_retention_seconds'] == dlq['message_retention_seconds'] == '${var.message_retention_seconds}',
           'init %s, terraform default %s' % (ret, model['variable']['message_retention_seconds']['default']))
    main_c = open(os.path.join(ROOT, 'consumer', 'main.c')).read()
    vis_default = int(re.search(r'visibility_s = (\d+);', main_c).group(1))
    cmd = model['locals']['consumer_command']['value']
    flag = lambda f: cmd[cmd.index(f) + 1] if isinstance(cmd, list) and f in cmd[:-1] else None  # noqa: E731
    result('visibility_timeout_fits_consumer', q['visibility_timeout_seconds'] == '${var.visibility_timeout_seconds}'
           and model['variable']['visibility_timeout_seconds']['default'] == vis_default
           and flag('--visibility-timeout') == '${tostring(var.visibility_timeout_seconds)}',
           'queue %s, default %s (consumer %s), command %s' % (q['visibility_timeout_seconds'],
           model['variable']['visibility_timeout_seconds']['default'], vis_default, cmd))
    result('queue_long_polls', q.get('receive_wait_time_seconds') == 20, q.get('receive_wait_time_seconds'))
    # The queues of high and low tasks (docs/design.md, "Priorities"): named
    # as the consumer derives them, one resource with the normal queue, so
    # they have its settings; moved blocks keep the queues of a configuration
    # that had them apart.
    moved = {(m['from'], m['to']) for m in model.get('moved', [])}
    result('priority_queues_like_the_queue',
           q.get('for_each') == '${local.task_queue_names}' and q.get('name') == '${each.value}' and
           names == {'normal': '${var.queue_name}', 'high': '${var.queue_name}-high', 'low': '${var.queue_name}-low'} and
           {('${aws_sqs_queue.tasks}', '${aws_sqs_queue.tasks["normal"]}'),
            ('${aws_sqs_queue.priority["high"]}', '${aws_sqs_queue.tasks["high"]}'),
            ('${aws_sqs_queue.priority["low"]}', '${aws_sqs_queue.tasks["low"]}')} <= moved,
           'queues %s, names %s, moved %s' % (q, names, moved))

    # --- IAM -------------------------------------------------------------------
    try:
        # The AWS target runners send their calls through the consumer's
        # host table (runner ABI 1.3), so lib/target's call sites are
        # reachable from it; their actions are the targets policy's
        # (check_targets_policy), not the consumer's own.
        cons_ops, _, cons_idx = aws_ops.analyse(ROOT, 'consumer', skip_under=('lib/target/',))
        lib_ops = aws_ops.all_ops(ROOT, ('lib', 'consumer'))
        # The CLI's policy is for people and CI; serve has its own (api.tf).
        prod_ops, _, _ = aws_ops.analyse(ROOT, 'producer', ['cmd_init', 'cmd_serve'])
        init_only = aws_ops.analyse(ROOT, 'producer', ['cmd_serve'])[0] - prod_ops
        serve_ops, _, serve_idx = aws_ops.analyse(ROOT, 'producer', entry='cmd_serve')
    except SystemExit as e:  # a call the finder cannot follow
        result('code_ops_found', False, e)
        return
    result('code_ops_found', {'sqs:ReceiveMessage', 'dynamodb:UpdateItem'} <= cons_ops and
           cons_ops <= lib_ops, 'consumer ops %s' % sorted(cons_ops))
    want_c = iam_actions(cons_ops)
    got_c = policy_actions(model, 'consumer')
    diff = compare(want_c, got_c)
    result('iam_consumer_exactly_the_code_calls', diff is None, diff)
    # the comparison itself must fail on a policy with one action too many or too few
    result('iam_check_catches_extra_action', compare(want_c, got_c | {'dynamodb:DeleteItem'}) is not None, 'not caught')
    result('iam_check_catches_missing_action', compare(want_c, got_c - {'sqs:ReceiveMessage'}) is not None, 'not caught')
    problems = []
    for st in statements(model, 'consumer'):
        res_list = st.get('resources', [])
        res_text = res_list if isinstance(res_list, str) else ' '.join(res_list)
        if '*' in res_text.replace('[*]', '') or st.get('effect', 'Allow') != 'Allow' or 'not_actions' in st:
            problems.append('%s: wildcard or unusual statement' % st.get('sid'))
        for a in st.get('actions', []):
            if a.startswith('sqs:') and res_text != '${local.task_queue_arns}':
                problems.append('%s on %s (only the task queues)' % (a, res_text))
            if a.startswith('dynamodb:') and a != 'dynamodb:Query' and res_text != '${aws_dynamodb_table.tasks.arn}':
                problems.append('%s on %s (only the table)' % (a, res_text))
            if a == 'dynamodb:Query':
                idx = set(re.findall(r'table_index_arns\["(\w+)"\]', res_text))
                if idx != cons_idx or 'aws_dynamodb_table.tasks.arn' in res_text:
                    problems.append('Query on %s, the consumer queries the indexes %s' % (res_text, sorted(cons_idx)))
    result('iam_consumer_only_these_resources', not problems, '; '.join(problems))
    diff = compare(iam_actions(prod_ops), policy_actions(model, 'producer'))
    result('iam_producer_exactly_the_cli_calls_but_init', diff is None and 'dynamodb:CreateTable' in init_only,
           diff or 'init-only calls %s' % sorted(init_only))
    check_api(model, serve_ops, serve_idx)
    check_targets_policy(model, res)
    attach = res['aws_iam_role_policy_attachment']['task_consumer']
    td = res['aws_ecs_task_definition']['consumer']
    others = [k for k, a in res['aws_iam_role_policy_attachment'].items()
              if a['role'] == '${aws_iam_role.task.name}' and k not in ('task_consumer', 'task_targets')]
    tgt = res['aws_iam_role_policy_attachment'].get('task_targets', {})
    if tgt.get('policy_arn') != '${aws_iam_policy.targets[0].arn}' or tgt.get('count') != '${local.any_target ? 1 : 0}':
        others.append('task_targets %s' % tgt)
    others += [k for k, p in res.get('aws_iam_role_policy', {}).items() if p['role'] in ('${aws_iam_role.task.id}', '${aws_iam_role.task.name}')]
    result('iam_task_role_has_only_consumer_policy', attach['policy_arn'] == '${aws_iam_policy.consumer.arn}'
           and attach['role'] == '${aws_iam_role.task.name}' and td['task_role_arn'] == '${aws_iam_role.task.arn}' and not others,
           'task role: attachment %s, other policies %s' % (attach, others))

    # --- ECS -------------------------------------------------------------------
    cd = td['container_definitions']
    shut_default = int(re.search(r'shutdown_timeout_s = (\d+);', main_c).group(1))
    stop = re.fullmatch(r'\$\{var\.shutdown_timeout \+ (\d+)\}', model['locals']['stop_timeout']['value'])
    cap = re.search(r'var\.shutdown_timeout <= (\d+)', model['variable']['shutdown_timeout']['validation'][0]['condition'])
    result('ecs_stop_timeout_above_shutdown_timeout',
           stop and int(stop.group(1)) > 15 and cap and int(cap.group(1)) + int(stop.group(1)) <= 120
           and 'stopTimeout = local.stop_timeout' in cd and flag('--shutdown-timeout') == '${tostring(var.shutdown_timeout)}'
           and model['variable']['shutdown_timeout']['default'] == shut_default,
           'stop %s, cap %s, consumer default %s' % (model['locals']['stop_timeout']['value'], cap and cap.group(1), shut_default))
    result('ecs_health_check_on_healthz', re.search(r'healthCheck = \{\s*command\s*= \["CMD", "/usr/local/bin/taskfleet-healthcheck", "127\.0\.0\.1:\$\{var\.metrics_port\}"\]', cd)
           and flag('--metrics-listen') == '0.0.0.0:${var.metrics_port}'
           and '/healthz' in open(os.path.join(ROOT, 'infra', 'docker', 'healthcheck')).read(),
           'healthCheck or --metrics-listen missing')
    result('ecs_logs_to_cloudwatch', 'logDriver = "awslogs"' in cd and 'awslogs-group         = aws_cloudwatch_log_group.consumer.name' in cd,
           'no awslogs configuration')
    result('ecs_fargate_service', td['requires_compatibilities'] == ['FARGATE'] and td['network_mode'] == 'awsvpc'
           and res['aws_ecs_service']['consumer']['task_definition'] == '${aws_ecs_task_definition.consumer.arn}',
           'task definition or service not Fargate')
    env = model['locals']['consumer_environment']['value']
    result('ecs_consumer_environment', all(s in env for s in ['TASKFLEET_TABLE       = aws_dynamodb_table.tasks.name',
                                                             'TASKFLEET_QUEUE_URL   = aws_sqs_queue.tasks["normal"].url', 'AWS_REGION']),
           env)

    # --- autoscaling -------------------------------------------------------------
    pol = res['aws_appautoscaling_policy']['backlog_per_task']
    cms = pol['target_tracking_scaling_policy_configuration'][0]['customized_metric_specification'][0]['metrics']
    by_id = {m['id']: m for m in cms}
    ret_data = [m for m in cms if m.get('return_data') is True]
    problems = []
    if len(ret_data) != 1 or not ret_data[0].get('expression'):
        problems.append('one expression must return the data')
    else:
        e = re.fullmatch(r'.*/\s*(\w+)\s*', ret_data[0]['expression'])
        den = by_id.get(e.group(1) if e else None, {}).get('metric_stat', [{}])[0].get('metric', [{}])[0]
        dims = {d['name']: d['value'] for d in den.get('dimensions', [])}
        if (den.get('namespace'), den.get('metric_name')) != ('ECS/ContainerInsights', 'RunningTaskCount') or \
                dims != {'ClusterName': '${aws_ecs_cluster.this.name}', 'ServiceName': '${aws_ecs_service.consumer.name}'}:
            problems.append('denominator is not the service\'s running tasks')
    tgt = res['aws_appautoscaling_target']['consumer']
    if pol['policy_type'] != 'TargetTrackingScaling' or tgt['min_capacity'] != '${var.min_capacity}' or tgt['max_capacity'] != '${var.max_capacity}':
        problems.append('not target tracking between min_capacity and max_capacity')
    insights = res['aws_ecs_cluster']['this'].get('setting', [])
    if {'name': 'containerInsights', 'value': 'enabled'} not in insights:
        problems.append('Container Insights (RunningTaskCount) is off')
    if 'var.min_capacity >= 1' not in model['variable']['min_capacity']['validation'][0]['condition']:
        problems.append('min_capacity may be 0 (division by zero, no sweeper)')
    result('autoscaling_backlog_per_task', not problems, '; '.join(problems))
    check_every_queue(model)

    # --- alarms ------------------------------------------------------------------
    al = res['aws_cloudwatch_metric_alarm']
    found = {(a['namespace'], a['metric_name'], a['dimensions'].get('QueueName')) for a in al.values()}
    result('alarm_oldest_message_age', ('AWS/SQS', 'ApproximateAgeOfOldestMessage', '${each.value.name}') in found
           and model['variable']['oldest_message_age_alarm_seconds']['default'] > 900, found)
    result('alarm_dead_letters', ('AWS/SQS', 'ApproximateNumberOfMessagesVisible', '${aws_sqs_queue.dlq.name}') in found, found)

    # --- variables, outputs, README ------------------------------------------------
    nodef = [n for n, v in model['variable'].items() if 'default' not in v or not v.get('description')]
    result('variables_have_defaults_and_descriptions', not nodef, nodef)
    outs = model['output']
    result('outputs_table_name_and_queue_url', outs.get('table_name', {}).get('value') == '${aws_dynamodb_table.tasks.name}'
           and outs.get('queue_url', {}).get('value') == '${aws_sqs_queue.tasks["normal"].url}', {k: outs.get(k) for k in ('table_name', 'queue_url')})
    readme = os.path.join(TF, 'README.md')
    text = open(readme).read() if os.path.exists(readme) else ''
    missing = [w for w in ['terraform init', 'terraform apply', 'docker build', 'oldest-message-age', 'dead-letters', 'table_name', 'queue_url']
               + list(model['variable']) if w not in text]
    result('readme_apply_steps_variables_alarms', not missing, 'infra/aws/README.md lacks %s' % missing)


QUEUE_NAME = re.compile(r'\$\{aws_sqs_queue\.tasks\["(\w+)"\]\.name\}')


def visible_metrics(spec, keys):
    """The backlog metrics of a customized_metric_specification: metric id ->
    the task queue (key of aws_sqs_queue.tasks) whose visible messages it is.
    A metrics block names one queue; a dynamic one counts only when it runs
    over every task queue (for_each = aws_sqs_queue.tasks)."""
    out = {}
    blocks = [(m, None) for m in spec.get('metrics', [])]
    for d in spec.get('dynamic', {}).get('metrics', []):
        it = d.get('iterator', 'metrics')
        for c in d.get('content', []):
            blocks.append((c, it if d.get('for_each') == '${aws_sqs_queue.tasks}' else ''))
    for m, it in blocks:
        met = m.get('metric_stat', [{}])[0].get('metric', [{}])[0]
        if (met.get('namespace'), met.get('metric_name')) != ('AWS/SQS', 'ApproximateNumberOfMessagesVisible'):
            continue
        qn = {d['name']: d['value'] for d in met.get('dimensions', [])}.get('QueueName', '')
        if it is None and QUEUE_NAME.fullmatch(qn):
            out[m['id']] = QUEUE_NAME.fullmatch(qn).group(1)
        elif it and qn == '${%s.value.name}' % it and m['id'].endswith('${%s.key}' % it):
            for k in keys:
                out[m['id'].replace('${%s.key}' % it, k)] = k
    return out


def queue_coverage(model):
    """What of every task queue (normal, high, low) the scaling metric and the
    age alarms leave out: a list of problems, empty when each covers all."""
    keys = set(model['locals'].get('task_queue_names', {}).get('value', {}))
    problems = [] if keys == {'normal', 'high', 'low'} else ['task queues %s' % sorted(keys)]
    pol = model['resource']['aws_appautoscaling_policy']['backlog_per_task']
    spec = pol['target_tracking_scaling_policy_configuration'][0]['customized_metric_specification'][0]
    ids = visible_metrics(spec, keys)
    expr = [m.get('expression', '') for m in spec.get('metrics', []) if m.get('return_data') is True]
    e = re.fullmatch(r'\s*\(?([\w\s+]+?)\)?\s*/\s*\w+\s*', expr[0]) if len(expr) == 1 else None
    summed = [t.strip() for t in e.group(1).split('+')] if e else []
    if not e or any(t not in ids for t in summed):
        problems.append('scaling: %r is not a sum of queues\' visible messages over running tasks (%s)' % (expr, sorted(ids)))
    left = keys - {ids[t] for t in summed if t in ids}
    if left:
        problems.append('scaling: the backlog leaves out %s' % sorted(left))
    aged = set()
    for a in model['resource']['aws_cloudwatch_metric_alarm'].values():
        if (a['namespace'], a['metric_name']) != ('AWS/SQS', 'ApproximateAgeOfOldestMessage'):
            continue
        qn = a['dimensions'].get('QueueName', '')
        if a.get('for_each') == '${aws_sqs_queue.tasks}' and qn == '${each.value.name}':
            aged |= keys
        elif QUEUE_NAME.fullmatch(qn):
            aged.add(QUEUE_NAME.fullmatch(qn).group(1))
    if keys - aged:
        problems.append('alarms: no oldest-message age alarm on %s' % sorted(keys - aged))
    return problems


def check_every_queue(model):
    """The scaling metric and the age alarms cover every task queue; and the
    check reports a configuration that leaves the low queue out of either."""
    import copy
    problems = queue_coverage(model)
    result('scaling_and_alarms_cover_every_task_queue', not problems, '; '.join(problems))
    left_out = '${{ for k, q in aws_sqs_queue.tasks : k => q if k != "low" }}'
    pol = ['resource', 'aws_appautoscaling_policy', 'backlog_per_task', 'target_tracking_scaling_policy_configuration', 0,
           'customized_metric_specification', 0]
    mutations = {
        'sum_without_low': (pol + ['metrics', -1, 'expression'], '(visible_normal + visible_high) / running'),
        'metrics_without_low': (pol + ['dynamic', 'metrics', 0, 'for_each'], left_out),
        'alarm_without_low': (['resource', 'aws_cloudwatch_metric_alarm', 'oldest_message_age', 'for_each'], left_out),
        'only_the_normal_queue': (pol + ['metrics', -1, 'expression'], 'visible_normal / running'),
    }
    missed = []
    for name, (where, value) in mutations.items():
        m = copy.deepcopy(model)
        node = m
        for k in where[:-1]:
            node = node[k]
        node[where[-1]] = value
        if not any('low' in p for p in queue_coverage(m)):
            missed.append(name)
    result('queue_coverage_check_catches_a_queue_left_out', not missed, 'not caught: %s' % missed)


def check_api(model, serve_ops, serve_idx):
    """The API's service, load balancer, scaling and IAM (api.tf)."""
    res = model['resource']
    want = iam_actions(serve_ops)
    got = policy_actions(model, 'api')
    diff = compare(want, got)
    result('iam_api_exactly_the_serve_calls', diff is None and 'secretsmanager:GetSecretValue' in want
           and 'ssm:GetParameter' in want, diff or sorted(want))
    result('iam_api_check_catches_extra_action', compare(want, got | {'sqs:PurgeQueue'}) is not None, 'not caught')
    problems = []
    for st in statements(model, 'api'):
        res_text = ' '.join(st['resources']) if isinstance(st['resources'], list) else st['resources']
        if '*' in res_text.replace('[*]', '') or 'not_actions' in st:
            problems.append('%s: wildcard or unusual statement' % st.get('sid'))
        for a in st.get('actions', []):
            # Sends and depths: the task queues (one per priority) and the
            # dead-letter queue; receiving, holding and deleting: the
            # dead-letter queue only (the API never takes a task's message).
            if a in ('sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage'):
                if res_text != '${aws_sqs_queue.dlq.arn}':
                    problems.append('%s on %s (only the dead-letter queue)' % (a, res_text))
            elif a.startswith('sqs:') and res_text != '${concat(local.task_queue_arns, [aws_sqs_queue.dlq.arn])}':
                problems.append('%s on %s' % (a, res_text))
            if a.startswith('dynamodb:') and a != 'dynamodb:Query' and res_text != '${aws_dynamodb_table.tasks.arn}':
                problems.append('%s on %s' % (a, res_text))
            if a == 'dynamodb:Query' and set(re.findall(r'table_index_arns\["(\w+)"\]', res_text)) != serve_idx:
                problems.append('Query on %s, serve queries %s' % (res_text, sorted(serve_idx)))
            if a.split(':')[0] in ('secretsmanager', 'ssm') and \
                    res_text != '${compact([var.api_keys_secret_arn, local.api_keys_parameter_arn])}':
                problems.append('%s on %s (only the key source)' % (a, res_text))
    att = res['aws_iam_role_policy_attachment']
    others = [k for k, a in att.items() if a['role'] == '${aws_iam_role.api_task[0].name}' and k != 'api_task']
    td = res['aws_ecs_task_definition']['api']
    if att['api_task']['policy_arn'] != '${aws_iam_policy.api[0].arn}' or others or \
            td['task_role_arn'] != '${aws_iam_role.api_task[0].arn}':
        problems.append('the API task role must carry the api policy only (others: %s)' % others)
    result('iam_api_only_these_resources', not problems, '; '.join(problems))

    tg = res['aws_lb_target_group']['api']
    hc = tg['health_check'][0]
    result('api_lb_health_check_on_readyz', hc.get('path') == '/readyz' and hc.get('matcher') == '200'
           and tg['target_type'] == 'ip' and tg['port'] == '${var.api_port}', hc)
    lb = res['aws_lb']['api']
    https, http = res['aws_lb_listener']['api_https'], res['aws_lb_listener']['api_http']
    result('api_lb_https_with_certificate', lb['load_balancer_type'] == 'application' and lb.get('drop_invalid_header_fields') is True
           and https['protocol'] == 'HTTPS' and https['port'] == 443 and https['certificate_arn'] == '${var.api_certificate_arn}'
           and 'TLS13' in model['variable']['api_ssl_policy']['default'] and https['ssl_policy'] == '${var.api_ssl_policy}'
           and https['default_action'][0]['target_group_arn'] == '${aws_lb_target_group.api[0].arn}'
           and http['default_action'][0]['redirect'][0]['protocol'] == 'HTTPS',
           'listeners %s / %s' % (https, http))
    cd = td['container_definitions']
    cmd = model['locals']['api_command']['value']
    env = model['locals']['api_environment']['value']
    svc = res['aws_ecs_service']['api']
    result('api_ecs_service_runs_serve', cmd[:3] == ['serve', '--listen', '0.0.0.0:${var.api_port}']
           and 'image     = local.image' in cd and '"/usr/local/bin/taskfleet"]' in cd
           and svc['load_balancer'][0]['container_port'] == '${var.api_port}'
           and svc['load_balancer'][0]['target_group_arn'] == '${aws_lb_target_group.api[0].arn}'
           and td['requires_compatibilities'] == ['FARGATE']
           and all(x in env for x in ['TASKFLEET_API_KEYS_SECRET = var.api_keys_secret_arn',
                                      'TASKFLEET_API_KEYS_PARAMETER = var.api_keys_parameter_name',
                                      'TASKFLEET_API_METRICS_LISTEN = "0.0.0.0:${var.metrics_port}"',
                                      'TASKFLEET_TABLE              = aws_dynamodb_table.tasks.name']),
           'command %s, environment %s' % (cmd, env))
    pols = res['aws_appautoscaling_policy']
    kinds = sorted(p['target_tracking_scaling_policy_configuration'][0]['predefined_metric_specification'][0]['predefined_metric_type']
                   for k, p in pols.items() if k.startswith('api_'))
    result('api_autoscaling_requests_and_cpu', kinds == ['ALBRequestCountPerTarget', 'ECSServiceAverageCPUUtilization']
           and res['aws_appautoscaling_target']['api']['min_capacity'] == '${var.api_min_capacity}', kinds)
    ing = res['aws_vpc_security_group_ingress_rule']
    to_api = [k for k, r in ing.items() if r['security_group_id'] == '${aws_security_group.api[0].id}'
              and r['from_port'] == '${var.api_port}']
    result('api_port_only_from_lb', to_api == ['api_from_lb']
           and ing['api_from_lb'].get('referenced_security_group_id') == '${aws_security_group.api_lb[0].id}'
           and 'cidr_ipv4' not in ing['api_from_lb'], to_api)


main()
finish()
