/**
 * The wire format of moby's v1 graph-driver plugin protocol, as dockerd
 * 20.10–27.x speaks it (daemon/graphdriver/proxy.go, pkg/plugins/client.go):
 * every call is `POST /GraphDriver.<Verb>` with a JSON body, answered with
 * JSON — except `Diff` (the answer is the tar) and `ApplyDiff` (the request
 * is the tar, the ids ride in the query string, unescaped).
 *
 * Field names are Go's (capitalised); an absent field is Go's zero value,
 * which is why every reader here tolerates `undefined` and `null`.
 */
import { LcowError } from '../errors.js';
import type { Change } from '../driver/index.js';

/** What both sides put in Content-Type and Accept. */
export const PLUGIN_MEDIA_TYPE = 'application/vnd.docker.plugins.v1.2+json';

/** The answer to `POST /Plugin.Activate`. */
export const ACTIVATE_RESPONSE = { Implements: ['GraphDriver'] } as const;

/** moby's graphDriverRequest. */
export interface DriverRequest {
  id: string;
  parent: string;
  mountLabel: string;
  storageOpt: Record<string, string>;
}

/** moby's graphDriverInitRequest (`idtools.IDMap` is `{ContainerID, HostID, Size}`). */
export interface InitRequest {
  home: string;
  opts: string[];
  uidMaps: unknown[];
  gidMaps: unknown[];
}

/** moby's archive.ChangeType: what `docker diff` prints as C, A and D. */
export const CHANGE_KIND = { modify: 0, add: 1, delete: 2 } as const;

export interface WireChange {
  Path: string;
  Kind: (typeof CHANGE_KIND)[keyof typeof CHANGE_KIND];
}

export function wireChanges(changes: readonly Change[]): WireChange[] {
  return changes.map((c) => ({ Path: c.path, Kind: CHANGE_KIND[c.kind] }));
}

function bad(verb: string, why: string, context: Record<string, unknown> = {}): LcowError {
  return new LcowError('EINVAL', `${verb}: ${why}`, { verb, ...context });
}

function field(body: Record<string, unknown>, name: string, verb: string): string {
  const v = body[name];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw bad(verb, `${name} must be a string`, { field: name });
  return v;
}

function object(body: unknown, verb: string): Record<string, unknown> {
  if (body === null || body === undefined) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw bad(verb, 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** A verb's request; `ID` is required unless `idOptional`. */
export function parseDriverRequest(body: unknown, verb: string, { idOptional = false } = {}): DriverRequest {
  const o = object(body, verb);
  const id = field(o, 'ID', verb);
  if (id === '' && !idOptional) throw bad(verb, 'ID is required');
  const opt = o.StorageOpt;
  const storageOpt: Record<string, string> = {};
  if (opt !== undefined && opt !== null) {
    if (typeof opt !== 'object' || Array.isArray(opt)) throw bad(verb, 'StorageOpt must be an object of strings', { field: 'StorageOpt' });
    for (const [k, v] of Object.entries(opt)) {
      if (typeof v !== 'string') throw bad(verb, `StorageOpt ${k} must be a string`, { field: 'StorageOpt', key: k });
      storageOpt[k] = v;
    }
  }
  return { id, parent: field(o, 'Parent', verb), mountLabel: field(o, 'MountLabel', verb), storageOpt };
}

export function parseInitRequest(body: unknown): InitRequest {
  const verb = 'Init';
  const o = object(body, verb);
  const list = (name: string): unknown[] => {
    const v = o[name];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw bad(verb, `${name} must be an array`, { field: name });
    return v as unknown[];
  };
  const opts = list('Opts');
  if (!opts.every((s): s is string => typeof s === 'string')) throw bad(verb, 'Opts must be strings', { field: 'Opts' });
  return { home: field(o, 'Home', verb), opts, uidMaps: list('UIDMaps'), gidMaps: list('GIDMaps') };
}

/**
 * ApplyDiff's `?id=…&parent=…`, taken verbatim: the daemon formats it with
 * `%s` and does not escape, so decoding (`+` → space, `%xx`) would change ids.
 */
export function parseApplyDiffQuery(search: string): { id: string; parent: string } {
  const values = new Map<string, string>();
  for (const pair of search.replace(/^\?/, '').split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    values.set(eq < 0 ? pair : pair.slice(0, eq), eq < 0 ? '' : pair.slice(eq + 1));
  }
  const id = values.get('id') ?? '';
  if (id === '') throw bad('ApplyDiff', 'the query needs id=…');
  return { id, parent: values.get('parent') ?? '' };
}
