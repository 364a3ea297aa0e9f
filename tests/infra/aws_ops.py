#!/usr/bin/env python3
"""aws_ops.py - which AWS operations a taskfleet program can call.

Reads the C sources (no build needed) and prints, for a program, the AWS
operations reachable from its main(): a source-level call graph over lib/ and
the program's own directory, where an edge is any mention of another
function's name in a function's body (calls and function pointers alike, so
thread entry points and callbacks count). Static functions resolve within
their own file first. An operation is a string literal handed to the AWS call
layer: `f(aws, "Op", ...)` or `f(aws, TF_AWS_SVC, "Op", ...)`.

    aws_ops.py ROOT consumer            -> one "service:Operation" a line
    aws_ops.py ROOT producer [--without FUNC ...]

analyse() also returns the DynamoDB index names the reachable code queries
(`.index = "NAME"`).
"""
import os
import re
import sys

FUNC_RE = re.compile(r'^([A-Za-z_]\w*)\s*\(', re.M)
IDENT_RE = re.compile(r'\b[A-Za-z_]\w*\b')
OP_RE = re.compile(
    r'\b\w+\s*\(\s*\w*aws\w*\s*,\s*(?:(TF_AWS_\w+)\s*,\s*)?"([A-Z][A-Za-z0-9]+)"')
SVC_BY_CONST = {'TF_AWS_SQS': 'sqs', 'TF_AWS_DYNAMODB': 'dynamodb'}
SVC_BY_FILE = {'ddb.c': 'dynamodb', 'sqs.c': 'sqs'}


def strip_comments_and_strings(text, keep_strings=True):
    """Blanks comments (and, unless keep_strings, string contents), keeping offsets."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j]))
            i = j
        elif text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i))
            i = j
        elif c in '"\'':
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == '\\' else 1
            j += 1
            out.append(text[i:j] if keep_strings else c + ' ' * (j - i - 2) + c)
            i = j
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def parse_file(path):
    """Returns ([(name, is_static, body)], globals) for a C file written in
    the project's style (a function's name at column 0, its body's braces at
    column 0). globals maps each file-scope variable that has an initializer
    (a table of commands or callbacks) to the initializer's text."""
    with open(path, encoding='utf-8') as f:
        text = strip_comments_and_strings(f.read())
    lines = text.split('\n')
    funcs, rest = [], []
    i = 0
    while i < len(lines):
        m = re.match(r'^([A-Za-z_]\w*)\s*\(', lines[i])
        if m and not lines[i].rstrip().endswith(';'):
            j = i
            while j < len(lines) and lines[j] != '{':
                if lines[j].rstrip().endswith(';'):
                    break
                j += 1
            if j < len(lines) and lines[j] == '{':
                k = j + 1
                while k < len(lines) and lines[k] != '}':
                    k += 1
                prev = lines[i - 1] if i > 0 else ''
                funcs.append((m.group(1), bool(re.search(r'\bstatic\b', prev)),
                              '\n'.join(lines[j:k + 1])))
                if rest and re.search(r'\bstatic\b', rest[-1]):
                    rest.pop()
                i = k + 1
                continue
        if not lines[i].startswith('#'):
            rest.append(lines[i])
        i += 1
    globs = {}
    for stmt in strip_comments_and_strings('\n'.join(rest), keep_strings=False).split(';'):
        m = re.search(r'([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)*=', stmt)
        if m:
            globs[m.group(1)] = stmt[m.end():]
    return funcs, globs


def analyse(root, program, without=()):
    dirs = ['lib', program]
    defs = {}        # (file, name) -> body
    public = {}      # name -> (file, name)
    statics = {}     # (file, name) -> key
    for d in dirs:
        for fn in sorted(os.listdir(os.path.join(root, d))):
            if not fn.endswith('.c'):
                continue
            path = os.path.join(d, fn)
            funcs, globs = parse_file(os.path.join(root, path))
            for gname, init in globs.items():
                # A file-scope table is a node too: reaching its name reaches
                # every function it names.
                key = (path, '=' + gname)
                defs[key] = init
                statics[(path, gname)] = key
            for name, is_static, body in funcs:
                key = (path, name)
                defs[key] = body
                if is_static:
                    statics[key] = key
                else:
                    public.setdefault(name, key)
    mains = [k for k in defs if k[1] == 'main' and k[0].startswith(program + '/')]
    if len(mains) != 1:
        raise SystemExit('aws_ops: expected one main() in %s/, found %d' % (program, len(mains)))
    seen = set()
    todo = [mains[0]]
    while todo:
        key = todo.pop()
        if key in seen or key[1] in without:
            continue
        seen.add(key)
        body = strip_comments_and_strings(defs[key], keep_strings=False)
        for ident in set(IDENT_RE.findall(body)):
            if ident == key[1]:
                continue
            callee = statics.get((key[0], ident)) or public.get(ident)
            if callee is not None and callee not in seen:
                todo.append(callee)
    ops = set()
    indexes = set()
    for key in seen:
        indexes.update(re.findall(r'\.index\s*=\s*"(\w+)"', defs[key]))
        for const, op in OP_RE.findall(defs[key]):
            svc = SVC_BY_CONST.get(const) or SVC_BY_FILE.get(os.path.basename(key[0]))
            if svc is None:
                raise SystemExit('aws_ops: cannot tell the service of %s in %s:%s'
                                 % (op, key[0], key[1]))
            ops.add('%s:%s' % (svc, op))
    return ops, seen, indexes


def all_ops(root):
    """Every operation literal in lib/ (reachable or not)."""
    ops = set()
    for fn in os.listdir(os.path.join(root, 'lib')):
        if fn.endswith('.c'):
            for name, _, body in parse_file(os.path.join(root, 'lib', fn))[0]:
                for const, op in OP_RE.findall(body):
                    svc = SVC_BY_CONST.get(const) or SVC_BY_FILE.get(fn)
                    ops.add('%s:%s' % (svc, op))
    return ops


if __name__ == '__main__':
    args = sys.argv[1:]
    if len(args) < 2:
        raise SystemExit(__doc__)
    without = args[args.index('--without') + 1:] if '--without' in args else []
    ops, _, _ = analyse(args[0], args[1], without)
    print('\n'.join(sorted(ops)))
