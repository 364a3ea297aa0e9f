#!/usr/bin/env python3
"""design_attributes.py - the attribute table of docs/design.md ("The task
item") names exactly the DynamoDB attributes the code writes (issue 20).

The names are read from the C sources of lib/, consumer/ and producer/ (every
.c file below them, so files may move between folders):

  - PutItem: in a function that calls tf_ddb_put_item(aws, table, ITEM, ...),
    every put_attr(ITEM, "name", ...) and cJSON_Add...ToObject(ITEM, "name",
    ...): the top-level attributes of the item written (nested maps, such as
    an `errors` entry, are other objects);
  - UpdateItem: in files that build DynamoDB expressions (they use struct
    tf_ddb_expr), every string literal that goes into an update expression:
    assigned to `.update`/`->update`, or appended (tf_buf_append_str,
    tf_buf_appendf) to a buffer called set, remove, upd or update, or any
    literal outside a condition that reads as a piece of an update expression
    (SET or REMOVE first, or `name = ...` with no AND/OR). Adjacent
    literals and string macros (#define X "...") are joined as the compiler
    joins them. Every attribute name such an expression mentions (SET targets
    and operands, REMOVE lists) counts, and each #placeholder is resolved
    through the file's tf_ddb_expr_name(e, "#ph", "name") calls (or, for a
    name computed at run time, a comment "#ph names FAMILY" in the file).

Conditions, key conditions and filters (sinks named cond..., filter) only
read attributes and are left out.

Checks, plain pass only (no binary is run):
  extracted                     the sources were understood: a PutItem and
                                update expressions were found, and every
                                #placeholder resolves
  code_attributes_documented    every attribute written is in the table
  documented_attributes_written every attribute in the table is written

TF_DESIGN_ROOT (default: the repository this script is in) points the check
at another tree, so a scratch copy can be tested.
"""
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from tftest import Report  # noqa: E402

ROOT = os.environ.get('TF_DESIGN_ROOT') or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
SOURCE_DIRS = ('lib', 'consumer', 'producer')

TOKEN = re.compile(r'''
    (?P<ws>\s+)
  | (?P<comment>/\*.*?\*/|//[^\n]*)
  | (?P<string>"(?:\\.|[^"\\\n])*")
  | (?P<char>'(?:\\.|[^'\\\n])*')
  | (?P<ident>[A-Za-z_]\w*)
  | (?P<number>\.?\d[\w.]*)
  | (?P<punct>->|\+\+|--|<<=|>>=|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^!~<>=]=?|[][(){};,.?:#])
''', re.S | re.X)

UPDATE_BUFFERS = {'set', 'remove', 'upd', 'update'}
APPEND_CALLS = {'tf_buf_append_str', 'tf_buf_appendf'}
EXPR_KEYWORDS = {'SET', 'REMOVE', 'ADD', 'DELETE', 'AND', 'OR', 'NOT'}
EXPR_FUNCTIONS = {'if_not_exists', 'list_append'}
PRINTF_SPEC = re.compile(r'%[-+ #0]*\d*(?:\.\d+)?(?:hh|h|ll|l|j|z|t|L)?[diouxXeEfgGcsp%]')


def c_string(tok):
    """The text of a C string literal token (simple escapes only)."""
    body = tok[1:-1]
    return re.sub(r'\\(.)', lambda m: {'n': '\n', 't': '\t'}.get(m.group(1), m.group(1)), body)


def lex(text):
    """Tokens (kind, value, line) of C text without its preprocessor lines,
    and the string macros it defines ({name: text})."""
    macros, lines, kept = {}, text.split('\n'), []
    i = 0
    while i < len(lines):
        line, start = lines[i], i
        if line.lstrip().startswith('#'):
            while line.endswith('\\') and i + 1 < len(lines):
                i += 1
                line = line[:-1] + ' ' + lines[i]
            m = re.match(r'\s*#\s*define\s+([A-Za-z_]\w*)\s+(.*)$', line)
            if m:
                body = re.sub(r'/\*.*?\*/', ' ', m.group(2)).strip()
                parts = re.findall(r'"(?:\\.|[^"\\])*"|[A-Za-z_]\w*|\S', body)
                if parts and all(p.startswith('"') or p in macros for p in parts):
                    macros[m.group(1)] = ''.join(
                        c_string(p) if p.startswith('"') else macros[p] for p in parts)
            kept.extend([''] * (i - start + 1))
        else:
            kept.append(line)
        i += 1
    toks, pos, line_no, src = [], 0, 1, '\n'.join(kept)
    while pos < len(src):
        m = TOKEN.match(src, pos)
        if m is None:          # a stray character: skip it
            pos += 1
            continue
        kind, val = m.lastgroup, m.group()
        if kind == 'string':
            toks.append(['string', c_string(val), line_no])
        elif kind == 'ident' and val in macros:
            toks.append(['string', macros[val], line_no])
        elif kind not in ('ws', 'comment'):
            toks.append([kind, val, line_no])
        line_no += val.count('\n')
        pos = m.end()
    merged = []
    for t in toks:             # "a" "b" is one literal, as the compiler joins it
        if t[0] == 'string' and merged and merged[-1][0] == 'string':
            merged[-1][1] += t[1]
        else:
            merged.append(t)
    return merged


def enclosing_call(toks, i):
    """For the token at i: (callee, [argument token lists]) of the innermost
    call around it, or (None, lvalue tokens) of the statement's assignment."""
    depth, j = 0, i - 1
    while j >= 0:
        v = toks[j][1]
        if v in (')', ']'):
            depth += 1
        elif v in ('(', '['):
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and v in (';', '{', '}'):
            j = -1
            break
        j -= 1
    if j >= 0 and toks[j][1] == '(' and j > 0 and toks[j - 1][0] == 'ident':
        args, cur, depth, k = [], [], 0, j + 1
        while k < len(toks):
            v = toks[k][1]
            if v in ('(', '['):
                depth += 1
            elif v in (')', ']'):
                if depth == 0:
                    break
                depth -= 1
            if depth == 0 and v == ',':
                args.append(cur)
                cur = []
            else:
                cur.append(toks[k])
            k += 1
        args.append(cur)
        return toks[j - 1][1], args
    # No call: the statement's `lvalue = ...`.
    k = i - 1
    while k >= 0 and toks[k][1] not in (';', '{', '}'):
        k -= 1
    stmt = toks[k + 1:i]
    for n, t in enumerate(stmt):
        if t[1] == '=':
            return None, stmt[:n]
    return None, []


def idents(tokens):
    return [t[1] for t in tokens if t[0] == 'ident']


def sink_of(toks, i):
    """'update', 'condition' or None: where the literal at i goes."""
    callee, rest = enclosing_call(toks, i)
    if callee is None:
        names = idents(rest)
        last = names[-1] if names else ''
    elif callee in APPEND_CALLS and rest and rest[0]:
        names = idents(rest[0])
        last = names[-1] if names else ''
    else:
        return None
    if re.search(r'cond|filter', last, re.I):
        return 'condition'
    if last in UPDATE_BUFFERS:
        return 'update'
    return None


def looks_like_update(text):
    """True for a literal of unknown sink that reads as a piece of an update
    expression: SET or REMOVE first, or an assignment with no AND/OR and no
    attribute_exists() (a buffer under another name than set/remove/upd)."""
    if re.match(r'\s*(SET|REMOVE)\s', text):
        return True
    return re.search(r'(?:^|,)\s*#?[A-Za-z_]\w*\s*=(?!=)', text) is not None and \
        re.search(r'\b(AND|OR)\b|attribute_', text) is None


def expression_names(text):
    """Attribute names and #placeholders an update expression mentions."""
    text = PRINTF_SPEC.sub(' ', text)
    text = re.sub(r':\w+', ' ', text)               # values
    text = re.sub(r'\.\w+|\[\d+\]', ' ', text)       # paths: the top attribute
    out = []
    for m in re.finditer(r'#?[A-Za-z_]\w*', text):
        w = m.group()
        if w.upper() in EXPR_KEYWORDS or w in EXPR_FUNCTIONS:
            continue
        out.append(w)
    return out


def function_bodies(toks):
    """(start, end) token ranges of the top-level brace blocks."""
    out, depth, start = [], 0, None
    for n, t in enumerate(toks):
        if t[1] == '{':
            if depth == 0:
                start = n
            depth += 1
        elif t[1] == '}':
            depth -= 1
            if depth == 0 and start is not None:
                out.append((start, n))
    return out


def code_attributes(problems):
    """{attribute: [where]} of every attribute the code writes."""
    found, put_seen, update_seen = {}, False, False
    for top in SOURCE_DIRS:
        for dirpath, _, files in sorted(os.walk(os.path.join(ROOT, top))):
            for f in sorted(files):
                if not f.endswith('.c'):
                    continue
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, ROOT)
                text = open(path, encoding='utf-8', errors='replace').read()
                if 'tf_ddb_put_item' not in text and 'tf_ddb_expr' not in text:
                    continue
                toks = lex(text)

                def add(name, line):
                    found.setdefault(name, []).append('%s:%d' % (rel, line))

                # PutItem: the object handed to tf_ddb_put_item and what is added to it.
                for a, b in function_bodies(toks):
                    body = toks[a:b]
                    items = set()
                    for n, t in enumerate(body):
                        if t[1] == 'tf_ddb_put_item' and n + 1 < len(body) and body[n + 1][1] == '(':
                            callee, args = enclosing_call(body, n + 2)
                            if callee == 'tf_ddb_put_item' and len(args) >= 3 and idents(args[2]):
                                items.add(idents(args[2])[-1])
                        # An item built for a caller to put (or to batch):
                        # `*item_out = item;` (tf_task_create_item).
                        if t[1] == '*' and n + 3 < len(body) and body[n + 1][1].endswith('item_out') \
                                and body[n + 2][1] == '=' and body[n + 3][0] != 'string':
                            items.add(body[n + 3][1])
                    if not items:
                        continue
                    for n, t in enumerate(body):
                        if t[0] != 'string':
                            continue
                        callee, args = enclosing_call(body, n)
                        if (callee == 'put_attr' or re.match(r'cJSON_Add\w*ToObject$', callee or '')) \
                                and len(args) >= 2 and len(args[1]) == 1 and args[1][0] is t \
                                and idents(args[0]) and idents(args[0])[-1] in items:
                            add(t[1], t[2])
                            put_seen = True
                if 'tf_ddb_expr' not in text:
                    continue
                # Placeholders of this file. One bound to a computed name
                # says in a comment what it names (limits.c: "#l names
                # limit:KEY"), a family the table lists as such.
                names = {}
                for m in re.finditer(r'(#\w+) names (\S+[A-Za-z])', text):
                    names.setdefault(m.group(1), set()).add(m.group(2))
                for n, t in enumerate(toks):
                    if t[1] == 'tf_ddb_expr_name' and n + 1 < len(toks) and toks[n + 1][1] == '(':
                        callee, args = enclosing_call(toks, n + 2)
                        if len(args) >= 3 and len(args[1]) == 1 and len(args[2]) == 1 \
                                and args[1][0][0] == 'string' and args[2][0][0] == 'string':
                            names.setdefault(args[1][0][1], set()).add(args[2][0][1])
                # Update expressions.
                for n, t in enumerate(toks):
                    if t[0] != 'string':
                        continue
                    sink = sink_of(toks, n)
                    if sink is None and looks_like_update(t[1]):
                        sink = 'update'
                    if sink != 'update':
                        continue
                    update_seen = True
                    for w in expression_names(t[1]):
                        if not w.startswith('#'):
                            add(w, t[2])
                        elif w in names:
                            for real in names[w]:
                                add(real, t[2])
                        else:
                            problems.append('%s:%d: placeholder %s has no '
                                            'tf_ddb_expr_name() in this file' % (rel, t[2], w))
    if not put_seen:
        problems.append('no PutItem of a task item found (tf_ddb_put_item with put_attr)')
    if not update_seen:
        problems.append('no update expression found')
    return found


def documented_attributes(problems):
    """The names in the first column of docs/design.md's attribute table: the
    first table after a heading that names "task item"."""
    path = os.path.join(ROOT, 'docs', 'design.md')
    try:
        lines = open(path, encoding='utf-8').read().split('\n')
    except OSError as e:
        problems.append('docs/design.md: %s' % e)
        return {}
    out, in_section, in_table = {}, False, False
    for n, line in enumerate(lines, 1):
        if line.startswith('#'):
            if in_table:
                break
            in_section = re.search(r'task item', line, re.I) is not None
            continue
        if not in_section:
            continue
        if line.startswith('|'):
            cells = [c.strip() for c in line.strip().strip('|').split('|')]
            if not in_table:
                in_table = cells[0].lower() == 'attribute'
                continue
            if re.match(r'^:?-+:?$', cells[0]):
                continue
            for name in re.findall(r'`([^`]+)`', cells[0]):
                out.setdefault(name, []).append('docs/design.md:%d' % n)
        elif in_table:
            break
    if not out:
        problems.append('docs/design.md: no attribute table (a table whose first '
                        'column is "attribute" under a heading naming "task item")')
    return out


def main():
    r = Report('design_attributes')
    problems = []
    code = code_attributes(problems)
    doc = documented_attributes(problems)
    r.check('extracted', not problems, '; '.join(problems))
    undocumented = sorted(set(code) - set(doc))
    r.check('code_attributes_documented', code and not undocumented,
            'written by the code but not in docs/design.md\'s attribute table: ' +
            ', '.join('%s (%s)' % (a, ', '.join(code[a][:3])) for a in undocumented))
    unwritten = sorted(set(doc) - set(code))
    r.check('documented_attributes_written', doc and not unwritten,
            'in docs/design.md\'s attribute table but written nowhere in the code: ' +
            ', '.join('%s (%s)' % (a, doc[a][0]) for a in unwritten))
    print('# %d attributes written by the code, %d in the table' % (len(code), len(doc)))
    sys.exit(1 if r.failed else 0)


main()
