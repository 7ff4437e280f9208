/**
 * moby's graph-driver verbs, as a table the HTTP transport serves, over a
 * driver opened at `GraphDriver.Init` and closed at `GraphDriver.Cleanup`.
 *
 * The daemon drives the lifecycle: it calls Init at every start and Cleanup
 * at every stop, on the same plugin, so one server outlives daemon restarts
 * (Init after Cleanup opens the data root again). An Init while the driver
 * is open means the daemon went away without Cleanup (it crashed): the gets
 * it held died with it, so the driver is cleaned up and opened afresh.
 *
 * The daemon's ids arrive as they are; the driver checks them (EINVAL).
 */
import { LcowError, asError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Change } from '../driver/index.js';
import { HostDirs, type HostDirsDriver } from './host-dirs.js';
import type { Verb, VerbContext } from './http-server.js';
import { parseApplyDiffQuery, parseDriverRequest, parseInitRequest, wireChanges, type DriverRequest } from './protocol.js';

/** What the plugin needs of a driver: LcowDriver, or a stand-in in tests. */
export interface PluginDriver extends HostDirsDriver {
  create(id: string, parent: string, opts: { storageOpt: Record<string, string> }): Promise<void>;
  createReadWrite(id: string, parent: string, opts: { storageOpt: Record<string, string> }): Promise<void>;
  remove(id: string): Promise<void>;
  exists(id: string): Promise<boolean>;
  applyDiff(id: string, parent: string, tar: AsyncIterable<Uint8Array>, opts: { signal?: AbortSignal }): Promise<number>;
  changes(id: string, parent: string): Promise<Change[]>;
  diffSize(id: string, parent: string): Promise<number>;
  status(): object;
  cleanup(): Promise<void>;
}

export interface GraphDriverPluginOptions<D extends PluginDriver> {
  /** Opens the driver; `engineOptions` is Init's `Opts` (the daemon's --storage-opt list). */
  open(engineOptions: string[]): Promise<D>;
  /** Where the Get directories go (emptied at every Init and Cleanup). */
  dirsRoot: string;
  logger: Logger;
}

interface Open<D> {
  driver: D;
  dirs: HostDirs;
}

export class GraphDriverPlugin<D extends PluginDriver> {
  private current: Open<D> | undefined;

  constructor(private readonly options: GraphDriverPluginOptions<D>) {}

  /** The open driver, between Init and Cleanup (for an embedding engine, and tests, to work beside the daemon). */
  get driver(): D | undefined {
    return this.current?.driver;
  }

  /** Cleanup as the daemon's verb does it: Get directories given back, the driver closed. */
  async cleanup(): Promise<void> {
    const c = this.current;
    this.current = undefined;
    if (!c) return;
    await c.dirs.releaseAll();
    await c.driver.cleanup();
  }

  /** The verb table, keyed `GraphDriver.<Verb>`. */
  verbs(): Map<string, Verb> {
    const json = (run: (body: unknown, ctx: VerbContext) => Promise<unknown>): Verb => ({ kind: 'json', run });
    const withId = (verb: string, run: (r: DriverRequest, o: Open<D>, ctx: VerbContext) => Promise<unknown>): Verb =>
      json((body, ctx) => run(parseDriverRequest(body, verb), this.open(verb), ctx));
    const table: Record<string, Verb> = {
      Init: json((body) => this.init(body)),
      Capabilities: json(async () => ({ Capabilities: { ReproducesExactDiffs: false } })),
      Status: json(async () => ({ Status: statusPairs(this.open('Status').driver.status()) })),
      Create: withId('Create', (r, o, ctx) => undoLate(ctx, o.driver.create(r.id, r.parent, { storageOpt: r.storageOpt }), () => o.driver.remove(r.id))),
      CreateReadWrite: withId('CreateReadWrite', (r, o, ctx) =>
        undoLate(ctx, o.driver.createReadWrite(r.id, r.parent, { storageOpt: r.storageOpt }), () => o.driver.remove(r.id)),
      ),
      Remove: withId('Remove', async (r, o) => o.driver.remove(r.id)),
      Get: withId('Get', async (r, o, ctx) => ({ Dir: await undoLate(ctx, o.dirs.get(r.id, ctx), () => o.dirs.put(r.id)) })),
      Put: withId('Put', async (r, o) => o.dirs.put(r.id)),
      Exists: withId('Exists', async (r, o) => ({ Exists: await o.driver.exists(r.id) })),
      GetMetadata: withId('GetMetadata', async (r, o) => ({ Metadata: await o.driver.getMetadata(r.id) })),
      Changes: withId('Changes', async (r, o) => ({ Changes: wireChanges(await o.driver.changes(r.id, r.parent)) })),
      DiffSize: withId('DiffSize', async (r, o) => ({ Size: await o.driver.diffSize(r.id, r.parent) })),
      Cleanup: json(async () => this.cleanup()),
      Diff: {
        kind: 'download',
        run: async (body) => {
          const r = parseDriverRequest(body, 'Diff');
          return this.open('Diff').driver.diff(r.id, r.parent);
        },
      },
      ApplyDiff: {
        kind: 'upload',
        run: async (query, tar, ctx) => {
          const { id, parent } = parseApplyDiffQuery(query);
          return { Size: await this.open('ApplyDiff').driver.applyDiff(id, parent, tar, { signal: ctx.signal }) };
        },
      },
    };
    return new Map(Object.entries(table).map(([verb, v]) => [`GraphDriver.${verb}`, v]));
  }

  private async init(body: unknown): Promise<object> {
    const req = parseInitRequest(body);
    if (req.uidMaps.length > 0 || req.gidMaps.length > 0) {
      throw new LcowError('EUNSUPPORTED', 'user-namespace remapping (UIDMaps/GIDMaps) is not supported by the lcow driver', { verb: 'Init' });
    }
    if (this.current) {
      this.options.logger.warn('Init while the driver is open: the daemon restarted without Cleanup; starting afresh');
      await this.cleanup().catch((err: unknown) => this.options.logger.warn({ err: asError(err) }, 'cleanup before a second Init'));
    }
    const driver = await this.options.open(req.opts);
    const dirs = new HostDirs(driver, this.options.dirsRoot, this.options.logger);
    try {
      await dirs.reset();
    } catch (err) {
      await driver.cleanup().catch(() => undefined);
      throw err;
    }
    this.current = { driver, dirs };
    this.options.logger.info({ home: req.home, opts: req.opts }, 'GraphDriver.Init');
    return {};
  }

  private open(verb: string): Open<D> {
    if (!this.current) throw new LcowError('EINVAL', `${verb}: the driver is not initialised (GraphDriver.Init first)`, { verb });
    return this.current;
  }
}

/**
 * A verb whose time limit passed is reported failed to the daemon, which
 * then never undoes it; if its work still succeeds later, undo it here
 * (a late Get would otherwise hold the layer for ever).
 */
async function undoLate<T>(ctx: VerbContext, work: Promise<T>, undo: () => Promise<unknown>): Promise<T> {
  const value = await work;
  if (ctx.signal.aborted) {
    await undo().catch(() => undefined);
    throw asError(ctx.signal.reason);
  }
  return value;
}

/** `docker info`'s lines under "Storage Driver": the driver's status as [key, value] strings. */
function statusPairs(status: object): Array<[string, string]> {
  return Object.entries(status).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v === undefined ? '-' : String(v)]);
}
