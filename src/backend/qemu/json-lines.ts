/**
 * Framing shared by QMP and qemu-ga: both speak one JSON object per line.
 * qemu-ga additionally sends a 0xFF byte before its guest-sync-delimited
 * answer; that byte means "discard whatever came before", so the splitter
 * reports it instead of passing it into a line.
 */

export type JsonObject = Record<string, unknown>;

export class JsonLineSplitter {
  private pending: Buffer[] = [];

  constructor(
    private readonly onMessage: (msg: JsonObject) => void,
    private readonly onBadLine: (line: string) => void = () => undefined,
    private readonly onResyncMarker: () => void = () => undefined,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === 0xff) {
        // Everything before the marker is stale by definition.
        this.pending = [];
        start = i + 1;
        this.onResyncMarker();
      } else if (b === 0x0a) {
        this.pending.push(chunk.subarray(start, i));
        const line = Buffer.concat(this.pending).toString('utf8').trim();
        this.pending = [];
        start = i + 1;
        if (line) this.deliver(line);
      }
    }
    if (start < chunk.length) this.pending.push(chunk.subarray(start));
  }

  private deliver(line: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      this.onBadLine(line);
      return;
    }
    if (msg && typeof msg === 'object' && !Array.isArray(msg)) this.onMessage(msg as JsonObject);
    else this.onBadLine(line);
  }
}

export function encodeJsonLine(msg: JsonObject): Buffer {
  return Buffer.from(JSON.stringify(msg) + '\n', 'utf8');
}
