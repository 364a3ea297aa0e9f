#!/usr/bin/env node
// check-tf.js DIR [SCHEMA.json] - parses every .tf file of a Terraform
// configuration with HashiCorp's own HCL parser (@cdktf/hcl2json: the Go
// hcl/v2 library compiled to WebAssembly) and checks what `terraform validate`
// would, as far as it can be done without Terraform and its provider:
//   parse       every file parses
//   declare     no name is declared twice
//   refs        every reference (var., local., data., resources, count.,
//               each., for and dynamic iterators) names something declared in
//               a scope where it exists; count/for_each resources are indexed,
//               the others are not; a variable's validation uses only itself
//   attrs       a referenced resource attribute exists in the provider schema
//   schema      every resource and data block uses only its type's arguments
//               and nested blocks, and sets the required ones
//   unused      every variable and local is used
//   moved       a moved block goes to a declared resource (indexed when it
//               has count or for_each) from another address
// Prints one JSON object: {"checks": {name: [problem, ...]}, "model": {...}}
// where model is the merged configuration as hcl2json gives it.
'use strict';
const fs = require('fs');
const path = require('path');
const { parse, getExpressionAst } = require('./node_modules/@cdktf/hcl2json');

const META = new Set(['count', 'for_each', 'depends_on', 'provider', 'lifecycle', 'provisioner', 'connection', 'dynamic']);
const checks = { parse: [], declare: [], refs: [], attrs: [], schema: [], unused: [], moved: [] };

async function refsIn(value, where) {
  // hcl2json gives every expression as a template string: "${expr}" or
  // text with interpolations. A heredoc needs no escaping to parse it again.
  if (typeof value !== 'string' || !value.includes('${')) return [];
  const ast = await getExpressionAst(where, '<<EOT_TF_CHECK\n' + value + '\nEOT_TF_CHECK\n').catch((e) => {
    checks.parse.push(`${where}: ${e.message}`);
    return null;
  });
  const out = [];
  const walk = (n, bound) => {
    if (!n) return;
    if (n.type === 'scopeTraversal') {
      const parts = n.meta.traversal.map((t) => ({ kind: t.type === 'nameTraversal' ? 'name' : 'index', seg: t.segment }));
      if (!bound.has(parts[0].seg)) out.push({ parts, text: n.meta.value, where });
      return;
    }
    if (n.type === 'for') {
      const inner = new Set(bound);
      if (n.meta.keyVar) inner.add(n.meta.keyVar);
      if (n.meta.valVar) inner.add(n.meta.valVar);
      let collectionSeen = false;
      for (const c of n.children || []) {
        if (!collectionSeen && c.meta && c.meta.value === n.meta.collectionExpression) {
          collectionSeen = true;
          walk(c, bound);
        } else walk(c, inner);
      }
      return;
    }
    for (const c of n.children || []) walk(c, bound);
  };
  walk(ast, new Set());
  return out;
}

// Every attribute value in a body, with the iterator names in scope.
function* values(body, where, iters) {
  for (const [k, v] of Object.entries(body)) {
    if (k === 'dynamic') {
      for (const [dname, list] of Object.entries(v)) {
        for (const d of list) {
          const it = typeof d.iterator === 'string' ? d.iterator : dname;
          if (d.for_each !== undefined) yield { value: d.for_each, where: `${where}.dynamic.${dname}.for_each`, iters };
          for (const c of d.content || []) yield* values(c, `${where}.dynamic.${dname}`, new Set([...iters, it]));
        }
      }
    } else if (k === 'lifecycle') {
      for (const l of v) {
        for (const [lk, lv] of Object.entries(l)) {
          if (lk === 'ignore_changes') continue;   // attribute names, not references
          if (Array.isArray(lv) && lv.length && typeof lv[0] === 'object') {
            for (const c of lv) yield* values(c, `${where}.lifecycle.${lk}`, iters);
          } else yield { value: lv, where: `${where}.lifecycle.${lk}`, iters };
        }
      }
    } else if (Array.isArray(v) && v.length && v.every((x) => x && typeof x === 'object' && !Array.isArray(x))) {
      for (const c of v) yield* values(c, `${where}.${k}`, iters);
    } else if (v && typeof v === 'object' && !Array.isArray(v)) {
      yield* values(v, `${where}.${k}`, iters);
    } else if (Array.isArray(v)) {
      for (const x of v) yield { value: x, where: `${where}.${k}`, iters };
    } else yield { value: v, where: `${where}.${k}`, iters };
  }
}

function checkSchema(body, schema, where) {
  if (!schema) return;
  for (const [k, v] of Object.entries(body)) {
    if (META.has(k)) {
      if (k === 'dynamic') {
        for (const [dname, list] of Object.entries(v)) {
          if (!schema.blocks[dname]) checks.schema.push(`${where}: dynamic "${dname}": no such block`);
          else for (const d of list) for (const c of d.content || []) checkSchema(c, schema.blocks[dname], `${where}.${dname}`);
        }
      }
      continue;
    }
    if (schema.blocks[k]) {
      if (!Array.isArray(v)) checks.schema.push(`${where}: ${k} is a block, not an argument`);
      else for (const c of v) checkSchema(c, schema.blocks[k], `${where}.${k}`);
    } else if (!schema.args.includes(k)) {
      checks.schema.push(`${where}: unsupported argument or block "${k}"`);
    }
  }
  for (const r of schema.required || []) {
    if (!(r in body) && !(body.dynamic && r in body.dynamic)) checks.schema.push(`${where}: required argument "${r}" is missing`);
  }
}

(async () => {
  const dir = process.argv[2];
  const schemaFile = process.argv[3];
  const schema = schemaFile ? JSON.parse(fs.readFileSync(schemaFile, 'utf8')) : null;
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.tf')).sort();
  if (files.length === 0) checks.parse.push(`${dir}: no .tf files`);
  const model = { variable: {}, locals: {}, resource: {}, data: {}, output: {}, module: {}, provider: {}, terraform: [], moved: [] };
  for (const f of files) {
    let j;
    try {
      j = await parse(f, fs.readFileSync(path.join(dir, f), 'utf8'));
    } catch (e) {
      checks.parse.push(`${f}: ${e.message}`);
      continue;
    }
    for (const [kind, v] of Object.entries(j)) {
      if (kind === 'locals') {
        for (const block of v) for (const [n, x] of Object.entries(block)) {
          if (n in model.locals) checks.declare.push(`${f}: local.${n} declared twice`);
          model.locals[n] = { value: x, file: f };
        }
      } else if (kind === 'resource' || kind === 'data') {
        for (const [t, byName] of Object.entries(v)) for (const [n, blocks] of Object.entries(byName)) {
          model[kind][t] = model[kind][t] || {};
          if (n in model[kind][t] || blocks.length > 1) checks.declare.push(`${f}: ${kind} ${t}.${n} declared twice`);
          model[kind][t][n] = { ...blocks[0], __file: f };
        }
      } else if (kind === 'variable' || kind === 'output' || kind === 'module' || kind === 'provider') {
        for (const [n, blocks] of Object.entries(v)) {
          if (n in model[kind] && kind !== 'provider') checks.declare.push(`${f}: ${kind} ${n} declared twice`);
          model[kind][n] = { ...blocks[0], __file: f };
        }
      } else if (kind === 'terraform') {
        model.terraform.push(...v);
      } else if (kind === 'moved') {
        for (const m of v) model.moved.push({ ...m, __file: f });
      } else {
        checks.declare.push(`${f}: unknown top-level block "${kind}"`);
      }
    }
  }

  const used = { variable: new Set(), locals: new Set() };
  const resolve = (ref, ctx) => {
    const p = ref.parts;
    const root = p[0].seg;
    const bad = (why) => checks.refs.push(`${ref.where}: ${ref.text}: ${why}`);
    const name1 = p[1] && p[1].kind === 'name' ? p[1].seg : null;
    const indexed = (decl, after, label) => {
      const multi = decl.count !== undefined || decl.for_each !== undefined;
      const next = p[after];
      if (next && next.kind === 'index' && !multi) bad(`${label} has no count or for_each, so it cannot be indexed`);
      if (next && next.kind === 'name' && multi) bad(`${label} has count or for_each: index it ([0], [key]) or splat it`);
      return next && next.kind === 'index' ? after + 1 : after;
    };
    const attr = (kind, type, at, label) => {
      const s = schema && schema[kind] && schema[kind][type];
      const a = p[at];
      if (s && a && a.kind === 'name' && !s.attrs.includes(a.seg)) checks.attrs.push(`${ref.where}: ${ref.text}: ${label} has no attribute "${a.seg}"`);
    };
    if (ctx.iters.has(root)) return;
    switch (root) {
      case 'var':
        if (!name1 || !(name1 in model.variable)) return bad('no such variable');
        if (!ctx.validationOf) used.variable.add(name1);
        if (ctx.validationOf && name1 !== ctx.validationOf) bad(`the validation of var.${ctx.validationOf} may refer only to itself`);
        return;
      case 'local':
        if (!name1 || !(name1 in model.locals)) return bad('no such local value');
        used.locals.add(name1);
        return;
      case 'data': {
        const t = name1, n = p[2] && p[2].seg;
        if (!t || !model.data[t] || !model.data[t][n]) return bad('no such data source');
        attr('data', t, indexed(model.data[t][n], 3, `data.${t}.${n}`), `data.${t}`);
        return;
      }
      case 'module':
        if (!name1 || !(name1 in model.module)) bad('no such module');
        return;
      case 'count':
        if (!ctx.count) bad('count.* used where the block has no count');
        else if (name1 !== 'index') bad('count has only .index');
        return;
      case 'each':
        if (!ctx.forEach) bad('each.* used where the block has no for_each');
        else if (name1 !== 'key' && name1 !== 'value') bad('each has only .key and .value');
        return;
      case 'path':
        if (!['module', 'root', 'cwd'].includes(name1)) bad('path has only .module, .root and .cwd');
        return;
      case 'terraform':
        if (name1 !== 'workspace') bad('terraform has only .workspace');
        return;
      case 'self':
        bad('self is only valid in provisioners and connections');
        return;
      default:
        if (!model.resource[root] || !name1 || !model.resource[root][name1]) return bad('no such resource, variable, local, data source or iterator');
        attr('resource', root, indexed(model.resource[root][name1], 2, `${root}.${name1}`), root);
    }
  };

  const scan = async (body, where, ctx) => {
    for (const v of values(body, where, ctx.iters || new Set())) {
      for (const r of await refsIn(v.value, v.where)) resolve(r, { ...ctx, iters: v.iters });
    }
  };
  for (const [n, v] of Object.entries(model.variable)) {
    for (const val of v.validation || []) await scan(val, `variable.${n}.validation`, { validationOf: n });
    if (typeof v.default === 'string' && v.default.includes('${')) checks.refs.push(`variable.${n}.default: a default cannot refer to anything`);
  }
  for (const [n, v] of Object.entries(model.locals)) {
    for (const r of await refsIn(v.value, `local.${n}`)) resolve(r, { iters: new Set() });
  }
  for (const kind of ['resource', 'data']) {
    for (const [t, byName] of Object.entries(model[kind])) {
      for (const [n, b] of Object.entries(byName)) {
        const { __file, ...body } = b;
        const label = `${kind === 'data' ? 'data.' : ''}${t}.${n}`;
        await scan(body, label, { count: b.count !== undefined, forEach: b.for_each !== undefined });
        if (schema) {
          if (!schema[kind][t]) checks.schema.push(`${label}: type ${t} is not in ${path.basename(schemaFile)} (regenerate it with gen-aws-schema.js)`);
          else checkSchema(body, schema[kind][t], label);
        }
      }
    }
  }
  // moved: `to` is checked as any reference (declared, indexed as it must
  // be); `from` names a resource address that is not `to`.
  for (const m of model.moved) {
    const where = `${m.__file}: moved`;
    const to = typeof m.to === 'string' ? await refsIn(m.to, `${where}.to`) : [];
    const from = typeof m.from === 'string' ? await refsIn(m.from, `${where}.from`) : [];
    if (to.length !== 1 || from.length !== 1) {
      checks.moved.push(`${where}: from and to must each be one resource address`);
      continue;
    }
    const nRefs = checks.refs.length;
    resolve(to[0], { iters: new Set() });
    if (checks.refs.length !== nRefs) checks.moved.push(`${where}: to ${to[0].text}: ${checks.refs.pop()}`);
    else if (to[0].parts.length > 3 || to[0].parts[1].kind !== 'name') checks.moved.push(`${where}: to ${to[0].text} is no resource address`);
    const fp = from[0].parts;
    if (['var', 'local', 'data', 'each', 'count'].includes(fp[0].seg) || fp.length < 2 || fp.length > 3 || fp[1].kind !== 'name') {
      checks.moved.push(`${where}: from ${from[0].text} is no resource address`);
    } else if (from[0].text === to[0].text) checks.moved.push(`${where}: from and to are the same address`);
  }
  for (const [n, b] of Object.entries(model.output)) {
    const { __file, ...body } = b;
    await scan(body, `output.${n}`, {});
  }
  for (const [n, b] of Object.entries(model.provider)) {
    const { __file, ...body } = b;
    await scan(body, `provider.${n}`, {});
  }
  for (const n of Object.keys(model.variable)) if (!used.variable.has(n)) checks.unused.push(`variable ${n} is declared but never used`);
  for (const n of Object.keys(model.locals)) if (!used.locals.has(n)) checks.unused.push(`local ${n} is declared but never used`);
  process.stdout.write(JSON.stringify({ files, checks, model }) + '\n');
})().catch((e) => { console.error(e && e.stack || e); process.exit(1); });
