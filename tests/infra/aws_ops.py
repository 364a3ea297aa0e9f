#!/usr/bin/env python3
"""aws_ops.py - which AWS operations a taskfleet program can call.

Reads the C sources (no build needed) and prints, for a program, the AWS
operations reachable from its main(): a source-level call graph over lib/ and
the program's own directory, where an edge is any mention of another
function's name in a function's body (calls and function pointers alike, so
thread entry points and callbacks count). Static functions resolve within
their own file first.

Every AWS request goes through tf_aws_call(aws, svc, operation, ...). A
function that hands one of its own parameters to tf_aws_call as the operation
(or to such a function, and so on: call_simple, ddb_call, metrics.c's probe)
is a carrier too. Every call of a carrier, in any function, is a call site:
its operation is the string literal(s) of that argument (`"Op"`,
`cond ? "A" : "B"`, or a local variable only ever assigned literals), its
service the TF_AWS_* constant passed for the service, wherever along the
chain it is fixed. A call site whose operation or service cannot be read that
way, or a carrier used other than by a direct call (a function pointer, a
macro, a table), stops the analysis with an error instead of being skipped:
nothing the code can send goes uncounted.

    aws_ops.py ROOT consumer            -> one "service:Operation" a line
    aws_ops.py ROOT producer [--without FUNC ...]
    aws_ops.py ROOT producer --entry cmd_serve   (one command's calls)

analyse() also returns the DynamoDB index names the reachable code queries
(`.index = "NAME"`).
"""
import os
import re
import sys

IDENT_RE = re.compile(r'\b[A-Za-z_]\w*\b')
LITERAL_RE = re.compile(r'"([^"\\]*)"')
OP_NAME_RE = re.compile(r'[A-Z][A-Za-z0-9]+')
SVC_BY_CONST = {'TF_AWS_SQS': 'sqs', 'TF_AWS_DYNAMODB': 'dynamodb',
                'TF_AWS_SECRETSMANAGER': 'secretsmanager', 'TF_AWS_SSM': 'ssm',
                'TF_AWS_SNS': 'sns', 'TF_AWS_LAMBDA': 'lambda', 'TF_AWS_EVENTS': 'events',
                'TF_AWS_SFN': 'states'}
# The AWS call layer: tf_aws_call(aws, svc, operation, ...), the same with a
# request already in text, and on the event loop:
# tf_aws_call_async(aws, loop, svc, operation, ...), and requests of other
# shapes: tf_aws_request(aws, svc, operation, ...). name -> (svc, op) index.
BASES = {'tf_aws_call': (1, 2), 'tf_aws_call_text': (1, 2),
         'tf_aws_call_async': (2, 3), 'tf_aws_request': (1, 2)}


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



def split_args(text):
    """Splits text at the commas outside parentheses, brackets and braces."""
    out, depth, cur = [], 0, []
    for c in text:
        if c in '([{':
            depth += 1
        elif c in ')]}':
            depth -= 1
        if c == ',' and depth == 0:
            out.append(''.join(cur))
            cur = []
        else:
            cur.append(c)
    out.append(''.join(cur))
    return [a.strip() for a in out]


def param_names(signature):
    """The parameter names of a function definition's head, in order."""
    blank = strip_comments_and_strings(signature, keep_strings=False)
    open_at = blank.index('(')
    depth = 0
    for close_at in range(open_at, len(blank)):
        depth += {'(': 1, ')': -1}.get(blank[close_at], 0)
        if depth == 0:
            break
    names = []
    for part in split_args(blank[open_at + 1:close_at]):
        if part in ('', 'void', '...'):
            continue
        fp = re.search(r'\(\s*\*\s*(\w+)\s*\)', part)  # a function pointer
        ids = IDENT_RE.findall(re.sub(r'\[[^\]]*\]', '', part))
        names.append(fp.group(1) if fp else (ids[-1] if ids else ''))
    return names


class Func:
    """One function definition: where, its parameters and its body (comments
    blanked, strings kept; `blank` has the strings blanked too, same offsets)."""

    def __init__(self, path, name, is_static, params, body):
        self.path, self.name, self.is_static = path, name, is_static
        self.params, self.body = params, body
        self.blank = strip_comments_and_strings(body, keep_strings=False)

    @property
    def key(self):
        return (self.path, self.name)


def parse_file(path, rel=None):
    """Returns ([Func], globals, outside) for a C file written in the
    project's style (a function's name at column 0, its body's braces at
    column 0). globals maps each file-scope variable that has an initializer
    (a table of commands or callbacks) to the initializer's text; outside is
    the text outside function bodies (declarations, tables and macros)."""
    with open(path, encoding='utf-8') as f:
        text = strip_comments_and_strings(f.read())
    lines = text.split('\n')
    funcs, rest = [], []
    in_macro = False
    outside = []
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
                funcs.append(Func(rel or path, m.group(1), bool(re.search(r'\bstatic\b', prev)),
                                  param_names('\n'.join(lines[i:j])), '\n'.join(lines[j:k + 1])))
                if rest and re.search(r'\bstatic\b', rest[-1]):
                    rest.pop()
                outside.append('\n'.join(lines[i:j]))
                i = k + 1
                continue
        outside.append(lines[i])
        if lines[i].startswith('#') or in_macro:
            in_macro = lines[i].rstrip().endswith('\\')
        else:
            rest.append(lines[i])
        i += 1
    globs = {}
    for stmt in strip_comments_and_strings('\n'.join(rest), keep_strings=False).split(';'):
        m = re.search(r'([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)*=', stmt)
        if m:
            globs[m.group(1)] = stmt[m.end():]
    return funcs, globs, '\n'.join(outside)


class Sources:
    """The functions and file-scope tables of some directories of root."""

    def __init__(self, root, dirs):
        self.defs = {}       # key -> Func, or for a table ('=' + name) its text
        self.public = {}     # name -> key
        self.statics = {}    # (file, name) -> key
        self.outside = {}    # file -> its text outside function bodies
        for d in dirs:
            for fn in sorted(os.path.relpath(os.path.join(top, n), os.path.join(root, d))
                             for top, _, names in os.walk(os.path.join(root, d))
                             for n in names):
                if not fn.endswith('.c'):
                    continue
                path = os.path.join(d, fn)
                funcs, globs, self.outside[path] = parse_file(os.path.join(root, path), path)
                for gname, init in globs.items():
                    # A file-scope table is a node too: reaching its name
                    # reaches every function it names.
                    key = (path, '=' + gname)
                    self.defs[key] = init
                    self.statics[(path, gname)] = key
                for f in funcs:
                    self.defs[f.key] = f
                    if f.is_static:
                        self.statics[f.key] = f.key
                    else:
                        self.public.setdefault(f.name, f.key)

    def resolve(self, path, name):
        """The key a mention of name in file path refers to, or None."""
        return self.statics.get((path, name)) or self.public.get(name)

    def funcs(self):
        return [f for f in self.defs.values() if isinstance(f, Func)]

    def calls(self, f, carriers):
        """Yields (carrier key, [argument texts]) for each call of a carrier
        in f's body; a carrier named without being called is an error."""
        for m in IDENT_RE.finditer(f.blank):
            key = self.resolve(f.path, m.group(0))
            if key not in carriers:
                continue
            if re.search(r'\b(struct|enum|union)\s+$', f.blank[:m.start()]):
                continue  # a type of the same name (struct tf_aws_request)
            after = f.blank[m.end():].lstrip()
            if not after.startswith('('):
                raise SystemExit('aws_ops: %s:%s uses %s other than by calling it; '
                                 'cannot follow the operation it sends' % (f.path, f.name, m.group(0)))
            open_at = f.blank.index('(', m.end())
            depth = 0
            for close_at in range(open_at, len(f.blank)):
                depth += {'(': 1, ')': -1}.get(f.blank[close_at], 0)
                if depth == 0:
                    break
            # Split on the blanked text, read literals from the real one.
            args, pos = [], open_at + 1
            for a in split_args(f.blank[open_at + 1:close_at]):
                at = f.blank.index(a, pos) if a else pos
                args.append(f.body[at:at + len(a)])
                pos = at + len(a)
            yield key, args


def carriers_of(src):
    """Every function that passes one of its parameters on as the operation
    of an AWS call: key -> (index of the operation parameter, service), the
    service being ('svc', name) when fixed or ('param', index) when the
    function passes a parameter on for it too."""
    carriers = {}
    for name, (svc_at, op_at) in BASES.items():
        base = src.public.get(name)
        if base is not None:
            carriers[base] = (op_at, ('param', svc_at))
    if src.public.get('tf_aws_call') is None:
        raise SystemExit('aws_ops: tf_aws_call() is not defined in the sources read')
    changed = True
    while changed:
        changed = False
        for f in src.funcs():
            if f.key in carriers:
                continue
            for key, args in src.calls(f, carriers):
                op_at, svc = carriers[key]
                if op_at >= len(args) or args[op_at] not in f.params:
                    continue
                if svc[0] == 'param':
                    svc = service_of(f, args[svc[1]] if svc[1] < len(args) else '', forwarding=True)
                carriers[f.key] = (f.params.index(args[op_at]), svc)
                changed = True
                break
    return carriers


def service_of(f, expr, forwarding=False):
    """The service an argument names: ('svc', name) for a TF_AWS_* constant,
    ('param', index) for a parameter of f when forwarding; else an error."""
    consts = set(re.findall(r'\bTF_AWS_\w+\b', expr))
    if len(consts) == 1 and consts <= set(SVC_BY_CONST):
        return ('svc', SVC_BY_CONST[consts.pop()])
    if forwarding and expr in f.params:
        return ('param', f.params.index(expr))
    raise SystemExit('aws_ops: %s:%s: cannot tell the AWS service of `%s`' % (f.path, f.name, expr))


def operations_of(f, expr):
    """The operation names an argument of a call in f can hold: its string
    literals, or those of every assignment to the local variable it names."""
    texts = [expr]
    if re.fullmatch(r'[A-Za-z_]\w*', expr):
        texts = re.findall(r'(?<![=!<>])\b%s\s*=(?!=)([^;]*);' % re.escape(expr), f.body)
    ops = []
    for t in texts:
        lits = LITERAL_RE.findall(t)
        if not lits or not all(OP_NAME_RE.fullmatch(x) for x in lits):
            raise SystemExit('aws_ops: %s:%s: cannot tell the AWS operation of `%s`' % (f.path, f.name, expr))
        ops.extend(lits)
    if not ops:
        raise SystemExit('aws_ops: %s:%s: cannot tell the AWS operation of `%s`' % (f.path, f.name, expr))
    return ops


def call_sites(src):
    """key -> set of "service:Operation" that the function's own calls send
    (an operation forwarded from a parameter counts at its callers')."""
    carriers = carriers_of(src)
    # Outside function bodies a carrier may only be declared (or defined):
    # a macro, a table or a pointer naming it would send what nobody reads.
    for path, text in src.outside.items():
        blank = strip_comments_and_strings(text, keep_strings=False)
        for m in IDENT_RE.finditer(blank):
            if src.resolve(path, m.group(0)) not in carriers:
                continue
            if re.search(r'\b(struct|enum|union)\s+$', blank[:m.start()]):
                continue  # a type of the same name (struct tf_aws_request)
            start = blank.rfind('\n', 0, m.start()) + 1
            while start > 0 and blank[:start - 1].rstrip(' \t').endswith('\\'):
                start = blank.rfind('\n', 0, start - 1) + 1  # a macro's continued line
            if blank[start:].lstrip().startswith('#') or not blank[m.end():].lstrip().startswith('('):
                raise SystemExit('aws_ops: %s names %s outside a call (a macro, table or pointer); '
                                 'cannot follow the operation it sends' % (path, m.group(0)))
    sites = {}
    for f in src.funcs():
        for key, args in src.calls(f, carriers):
            op_at, svc = carriers[key]
            mine = carriers.get(f.key)
            if op_at < len(args) and mine is not None and args[op_at] == f.params[mine[0]]:
                continue  # forwarded: counted where the literal is
            if op_at >= len(args):
                raise SystemExit('aws_ops: %s:%s calls %s with too few arguments' % (f.path, f.name, key[1]))
            if svc[0] == 'param':
                svc = service_of(f, args[svc[1]] if svc[1] < len(args) else '')
            for op in operations_of(f, args[op_at]):
                sites.setdefault(f.key, set()).add('%s:%s' % (svc[1], op))
    return sites


def analyse(root, program, without=(), entry='main', skip_under=()):
    """Returns (the operations reachable from program's main() (or from the
    function entry, e.g. one command's: cmd_serve), the keys of the
    reachable functions, the DynamoDB indexes they query). Call sites in
    files under a path of skip_under do not count (lib/target/: another
    policy's)."""
    src = Sources(root, ['lib', program])
    sites = call_sites(src)
    mains = [k for k in src.defs if k[1] == entry and k[0].startswith(program + '/')]
    if len(mains) != 1:
        raise SystemExit('aws_ops: expected one %s() in %s/, found %d' % (entry, program, len(mains)))
    seen = set()
    todo = [mains[0]]
    while todo:
        key = todo.pop()
        if key in seen or key[1] in without:
            continue
        seen.add(key)
        d = src.defs[key]
        body = d.blank if isinstance(d, Func) else strip_comments_and_strings(d, keep_strings=False)
        for ident in set(IDENT_RE.findall(body)):
            if ident == key[1]:
                continue
            callee = src.resolve(key[0], ident)
            if callee is not None and callee not in seen:
                todo.append(callee)
    ops = set()
    indexes = set()
    for key in seen:
        d = src.defs[key]
        indexes.update(re.findall(r'\.index\s*=\s*"(\w+)"', d.body if isinstance(d, Func) else d))
        if not key[0].startswith(tuple(skip_under)):
            ops.update(sites.get(key, ()))
    return ops, seen, indexes


def all_ops(root, dirs=('lib',), under=''):
    """Every operation the code in dirs can send (reachable or not); with
    under, only the call sites in files under that path (lib/target: what
    the AWS target runners send)."""
    ops = set()
    for key, s in call_sites(Sources(root, list(dirs))).items():
        if key[0].startswith(under):
            ops.update(s)
    return ops


if __name__ == '__main__':
    args = sys.argv[1:]
    if len(args) < 2:
        raise SystemExit(__doc__)
    entry = args[args.index('--entry') + 1] if '--entry' in args else 'main'
    without = args[args.index('--without') + 1:] if '--without' in args else []
    ops, _, _ = analyse(args[0], args[1], without, entry)
    print('\n'.join(sorted(ops)))
