#!/usr/bin/env node
// gen-aws-schema.js - writes aws-provider-schema.json: for each resource and
// data source type infra/aws uses, the arguments, nested blocks and readable
// attributes of the Terraform AWS provider, taken from the provider's
// generated bindings in @cdktf/provider-aws (made from `terraform providers
// schema -json`). Too big (390 MB) to install for every test run, so the
// extract is committed; run this again after adding a resource type:
//
//   npm pack @cdktf/provider-aws@21.22.1 && mkdir pa && tar xzf cdktf-provider-aws-21.22.1.tgz -C pa
//   node tests/infra/gen-aws-schema.js pa/package tests/infra/aws-provider-schema.json
'use strict';
const fs = require('fs');
const path = require('path');
const { parse } = require('./node_modules/@cdktf/hcl2json');

function snake(s) { return s.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase()); }

function readType(dir) {
  const dts = fs.readFileSync(path.join(dir, 'index.d.ts'), 'utf8');
  const js = fs.readFileSync(path.join(dir, 'index.js'), 'utf8');
  const ifaces = {};
  const re = /export interface (\w+)(?: extends [\w.]+)? \{([\s\S]*?)\n\}/g;
  let m;
  while ((m = re.exec(dts)) !== null) {
    const props = [];
    let anchor = null;
    for (const line of m[2].split('\n')) {
      const a = /#([a-z0-9_]+) \w+#/.exec(line);
      if (a) anchor = a[1];
      const p = /^\s*readonly (\w+)\??: ([^;]*);?\s*$/.exec(line);
      if (p) { props.push({ name: anchor || snake(p[1]), type: p[2], required: !line.includes('?:') }); anchor = null; }
    }
    ifaces[m[1]] = props;
  }
  const build = (iname, depth) => {
    const out = { args: [], required: [], blocks: {} };
    for (const p of ifaces[iname] || []) {
      const nested = (p.type.match(/\b\w+\b/g) || []).find((t) => t !== iname && ifaces[t]);
      if (nested && depth < 12) out.blocks[p.name] = build(nested, depth + 1);
      else out.args.push(p.name);
      if (p.required) out.required.push(p.name);
    }
    out.args.sort();
    return out;
  };
  const cls = /export declare class (\w+) extends cdktf\.Terraform(?:Resource|DataSource)/.exec(dts)[1];
  const schema = build(cls + 'Config', 0);
  const attrs = new Set(schema.args);
  for (const a of js.matchAll(/(?:Attribute|interpolationForAttribute)\('([a-z0-9_]+)'\)/g)) attrs.add(a[1]);
  schema.attrs = [...attrs].sort();
  return schema;
}

(async () => {
  const [libRoot, out] = process.argv.slice(2);
  if (!libRoot || !out) { console.error('usage: gen-aws-schema.js PROVIDER_AWS_PACKAGE OUT.json'); process.exit(2); }
  const lib = path.join(libRoot, 'lib');
  const byType = {};
  for (const d of fs.readdirSync(lib)) {
    const f = path.join(lib, d, 'index.d.ts');
    if (!fs.existsSync(f)) continue;
    const t = /static readonly tfResourceType = "([a-z0-9_]+)"/.exec(fs.readFileSync(f, 'utf8'));
    if (t) byType[(d.startsWith('data-') ? 'data:' : 'resource:') + t[1]] = path.join(lib, d);
  }
  const infra = path.join(__dirname, '..', '..', 'infra', 'aws');
  const used = { resource: new Set(), data: new Set() };
  for (const f of fs.readdirSync(infra).filter((x) => x.endsWith('.tf'))) {
    const j = await parse(f, fs.readFileSync(path.join(infra, f), 'utf8'));
    for (const kind of ['resource', 'data']) for (const t of Object.keys(j[kind] || {})) used[kind].add(t);
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(libRoot, 'package.json'), 'utf8'));
  const result = {
    source: `@cdktf/provider-aws ${pkg.version} = ${pkg.cdktf.provider.name} ${pkg.cdktf.provider.version}`,
    resource: {}, data: {},
  };
  for (const kind of ['resource', 'data']) {
    for (const t of [...used[kind]].sort()) {
      const dir = byType[kind + ':' + t];
      if (!dir) { console.error(`no such ${kind} type in the provider: ${t}`); process.exit(1); }
      result[kind][t] = readType(dir);
    }
  }
  fs.writeFileSync(out, JSON.stringify(result, null, 1) + '\n');
  console.error(`wrote ${out}: ${Object.keys(result.resource).length} resource and ${Object.keys(result.data).length} data source types`);
})();
