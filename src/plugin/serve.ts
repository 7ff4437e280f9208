/**
 * `servePlugin`: an LcowDriver behind moby's graph-driver plugin protocol on
 * a unix socket — what `lcow plugin serve` runs, for an engine (dockerd
 * 20.10–27.x with --experimental) or for an engine written in Node.
 */
import path from 'node:path';
import { LcowError } from '../errors.js';
import { componentLogger, type Logger } from '../log.js';
import { LcowDriver, DEFAULT_TIMEOUT_SECONDS, type LcowDriverOpenOptions } from '../driver/index.js';
import { GraphDriverPlugin } from './graph-driver.js';
import { PluginHttpServer } from './http-server.js';

/** Where dockerd looks for plugin sockets (fixed, whatever its --exec-root). */
export const DOCKER_PLUGIN_DIR = '/run/docker/plugins';
/** The Get directories' folder in the data root: a dot name, which the driver never takes for a layer id. */
export const GET_DIRS = '.lcow-get';

export interface ServePluginOptions {
  /** The driver's data root. */
  root: string;
  /** The name the daemon knows the driver by (`dockerd -s NAME`); default 'lcow'. */
  name?: string;
  /** Default `/run/docker/plugins/<name>.sock`. */
  socketPath?: string;
  /** `lcow.*` options; the daemon's --storage-opt list (Init's Opts) comes after them, so it wins. */
  options?: string[];
  /** The rest of what LcowDriver.open takes (backend, serviceVm, maxParallelStarts …). */
  driver?: Omit<LcowDriverOpenOptions, 'options' | 'logger'>;
  /** A verb's limit without progress, in ms (default: lcow.timeout's default, 300 s). */
  verbTimeoutMs?: number;
  logger?: Logger;
}

export interface PluginServer {
  readonly socketPath: string;
  /** The open driver, between the daemon's Init and Cleanup. */
  readonly driver: LcowDriver | undefined;
  /** The daemon's Cleanup (if it has not come), then stop serving and remove the socket. */
  close(): Promise<void>;
}

const PLAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function pluginSocketPath(name: string): string {
  if (!PLAIN_NAME.test(name)) throw new LcowError('EINVAL', `plugin name ${JSON.stringify(name)} must be a plain name ([A-Za-z0-9_.-])`, { name });
  return path.join(DOCKER_PLUGIN_DIR, `${name}.sock`);
}

export async function servePlugin(options: ServePluginOptions): Promise<PluginServer> {
  const name = options.name ?? 'lcow';
  const socketPath = options.socketPath ?? pluginSocketPath(name);
  const log = componentLogger(options.logger, 'plugin', { name });
  const root = path.resolve(options.root);
  const plugin = new GraphDriverPlugin<LcowDriver>({
    open: (engineOptions) => LcowDriver.open(root, { ...options.driver, options: [...(options.options ?? []), ...engineOptions], logger: options.logger }),
    dirsRoot: path.join(root, GET_DIRS),
    logger: log,
  });
  const http = await PluginHttpServer.listen({
    socketPath,
    verbs: plugin.verbs(),
    verbTimeoutMs: options.verbTimeoutMs ?? DEFAULT_TIMEOUT_SECONDS * 1000,
    logger: log,
  });
  log.info({ socketPath, root }, 'graph-driver plugin listening');
  let closing: Promise<void> | undefined;
  return {
    socketPath,
    get driver() {
      return plugin.driver;
    },
    close: () =>
      (closing ??= (async () => {
        await http.close();
        await plugin.cleanup();
      })()),
  };
}
