// The Google providers' own argument schema, read from the generated CDK for Terraform
// bindings (npm @cdktf/provider-google and -beta, generated from `terraform providers schema`
// of the provider version they name). `terraform validate` needs the providers, which cannot be
// downloaded here; these packages carry the same schema as code. Every binding serialises a
// resource through generated functions of one shape:
//   function xToTerraform(struct) { ... return { arg: cdktf.stringToTerraform(struct.arg),
//     block: cdktf.listMapper(yToTerraform, true)(struct.block), ... } }
// and the class's synthesizeAttributes() does the same for the top level. Reading those object
// literals gives, per resource, the arguments and nested blocks it accepts (computed-only
// attributes are not serialised, so they are rightly unknown as arguments). The .d.ts config
// interfaces say which top-level arguments are required.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface BlockSchema {
  attrs: Set<string>;
  blocks: Map<string, BlockSchema>;
}

interface ResourceSchema extends BlockSchema {
  required: Set<string>;
}

export interface ProviderSchema {
  provider: string;
  version: string;
  resources: Map<string, ResourceSchema>;
  dataSources: Map<string, ResourceSchema>;
}

/** Splits an object literal body into `key: expression` entries at top-level commas. */
function entries(body: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const line of body.split('\n')) {
    const m = /^\s*([a-z0-9_]+): (.*?),?\s*$/.exec(line);
    if (m) out.push([m[1]!, m[2]!]); // both groups mandatory
  }
  return out;
}

function returnedLiteral(fnBody: string): string | null {
  const m = /return \{\n([\s\S]*?)\n\s*\};/.exec(fnBody);
  return m ? m[1]! : null; // the group is mandatory
}

function parseFile(js: string): { fns: Map<string, string>; top: string | null; type: string | null; data: boolean } {
  const fns = new Map<string, string>();
  for (const m of js.matchAll(/^function (\w+)ToTerraform\(struct\) \{([\s\S]*?)^\}/gm)) {
    // Both groups are mandatory in the pattern.
    const lit = returnedLiteral(m[2]!);
    if (lit !== null) fns.set(m[1]!, lit);
  }
  const synth = /\n {4}synthesizeAttributes\(\) \{([\s\S]*?)\n {4}\}/.exec(js);
  const type = /\.tfResourceType = "([a-z0-9_]+)";/.exec(js)?.[1] ?? null;
  return { fns, top: synth ? returnedLiteral(synth[1]!) : null, type, data: /extends cdktf\.TerraformDataSource/.test(js) };
}

function build(literal: string, fns: Map<string, string>, depth = 0): BlockSchema {
  const schema: BlockSchema = { attrs: new Set(), blocks: new Map() };
  for (const [key, expr] of entries(literal)) {
    const nested = [...expr.matchAll(/\b(\w+)ToTerraform\b/g)].map((m) => m[1]!).find((n) => fns.has(n));
    if (nested && depth < 12) schema.blocks.set(key, build(fns.get(nested)!, fns, depth + 1));
    else schema.attrs.add(key);
  }
  return schema;
}

function requiredArgs(dts: string): Set<string> {
  const out = new Set<string>();
  const config = /export interface \w+Config extends cdktf\.TerraformMetaArguments \{([\s\S]*?)\n\}/.exec(dts);
  if (!config) return out;
  // Mandatory groups below: config[1], m[1]; m[3] is the optional '?'.
  for (const m of config[1]!.matchAll(/#([a-z0-9_]+) \w+#\w+\}\n\s*\*\/\n\s*readonly (\w+)(\?)?:/g)) {
    if (!m[3]) out.add(m[1]!);
  }
  return out;
}

export function loadProviderSchema(pkg: '@cdktf/provider-google' | '@cdktf/provider-google-beta'): ProviderSchema {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve(`${pkg}/package.json`));
  const lib = join(root, 'lib');
  const providerJs = readFileSync(join(lib, 'provider', 'index.js'), 'utf8');
  const version = /providerVersion: '([^']+)'/.exec(providerJs)?.[1] ?? 'unknown';
  const resources = new Map<string, ResourceSchema>();
  const dataSources = new Map<string, ResourceSchema>();
  for (const dir of readdirSync(lib)) {
    const file = join(lib, dir, 'index.js');
    if (dir === 'provider' || !existsSync(file)) continue;
    const { fns, top, type, data } = parseFile(readFileSync(file, 'utf8'));
    if (!type || top === null) continue;
    const dtsFile = join(lib, dir, 'index.d.ts');
    const schema: ResourceSchema = { ...build(top, fns), required: existsSync(dtsFile) ? requiredArgs(readFileSync(dtsFile, 'utf8')) : new Set() };
    (data ? dataSources : resources).set(type, schema);
  }
  return { provider: pkg.endsWith('beta') ? 'google-beta' : 'google', version, resources, dataSources };
}

type Obj = Record<string, unknown>;

/** Terraform meta-arguments and blocks every resource accepts. */
const META = new Set(['count', 'for_each', 'depends_on', 'provider', 'lifecycle', 'provisioner', 'connection']);

/**
 * Problems of one parsed (hcl2json) resource body against its schema: unknown arguments or
 * blocks (with their path), attributes written as blocks and the reverse, and missing required
 * top-level arguments. `dynamic "x" { content { … } }` is checked as block x.
 */
export function checkBody(schema: BlockSchema, body: Obj, path: string, required?: Set<string>): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const visit = (key: string, value: unknown) => {
    seen.add(key);
    const where = `${path}.${key}`;
    if (schema.blocks.has(key)) {
      const items = Array.isArray(value) ? value : [value];
      for (const item of items) {
        if (item && typeof item === 'object' && !Array.isArray(item)) problems.push(...checkBody(schema.blocks.get(key)!, item as Obj, where));
        // A block given as `key = expr` (attribute syntax) is refused by Terraform for nested blocks.
        else problems.push(`${where}: is a block, written as an attribute`);
      }
    } else if (!schema.attrs.has(key)) {
      problems.push(`${where}: unknown argument or block`);
    }
  };
  for (const [key, value] of Object.entries(body)) {
    if (META.has(key)) continue;
    if (key === 'dynamic') {
      for (const [name, defs] of Object.entries(value as Obj)) {
        for (const def of defs as Obj[]) {
          const content = (def.content as Obj[] | undefined)?.[0] ?? {};
          if (!schema.blocks.has(name)) problems.push(`${path}.dynamic "${name}": ${schema.attrs.has(name) ? 'is an attribute, not a block' : 'unknown block'}`);
          else problems.push(...checkBody(schema.blocks.get(name)!, content, `${path}.${name}`));
          seen.add(name);
        }
      }
      continue;
    }
    visit(key, value);
  }
  for (const r of required ?? []) if (!seen.has(r)) problems.push(`${path}: required argument ${r} is missing`);
  return problems;
}
