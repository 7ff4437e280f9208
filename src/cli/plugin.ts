/**
 * `lcow plugin serve --root DIR [--name NAME] [--socket PATH] [--opt k=v]…
 * [--verb-timeout SECONDS]` — the driver as a moby graph-driver plugin until
 * SIGTERM or SIGINT, which run the daemon's Cleanup (unmount, stop every
 * service VM, give the data root back), remove the socket and exit 0.
 *
 * dockerd 20.10–27.x finds it by name: `dockerd --experimental -s NAME`
 * looks for /run/docker/plugins/NAME.sock.
 */
import { LcowError, asError } from '../errors.js';
import { servePlugin } from '../plugin/index.js';
import { parseDriverArgs } from './driver-args.js';

const USAGE = 'usage: lcow plugin serve --root DIR [--name NAME] [--socket PATH] [--opt lcow.key=value]… [--verb-timeout SECONDS]';

export async function run(args: string[]): Promise<number> {
  const a = parseDriverArgs(args, ['--name', '--socket', '--verb-timeout'], [], USAGE);
  if (a.positional.length > 0) throw new LcowError('EINVAL', `unexpected argument '${a.positional[0]}'\n${USAGE}`, { args });
  const flag = (n: string) => {
    const v = a.flags.get(n);
    return typeof v === 'string' ? v : undefined;
  };
  const timeout = flag('--verb-timeout');
  if (timeout !== undefined && !/^[1-9][0-9]*$/.test(timeout)) {
    throw new LcowError('EINVAL', `--verb-timeout must be a whole number of seconds, not ${JSON.stringify(timeout)}`, { option: '--verb-timeout' });
  }
  const server = await servePlugin({
    root: a.root,
    name: flag('--name'),
    socketPath: flag('--socket'),
    options: a.opts,
    verbTimeoutMs: timeout === undefined ? undefined : Number(timeout) * 1000,
  });
  process.stderr.write(`lcow: graph-driver plugin serving on ${server.socketPath} (data root ${a.root})\n`);
  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.stderr.write(`lcow: ${signal}: cleaning up\n`);
      server.close().then(
        () => resolve(0),
        (err: unknown) => {
          process.stderr.write(`lcow: cleanup failed: ${asError(err).message}\n`);
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
