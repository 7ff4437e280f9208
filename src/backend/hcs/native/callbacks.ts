/**
 * The two long-lived registered callbacks (operation completion, HCS event),
 * one per process, routed by a bigint id passed to HCS as `void *context`
 * (the pattern of hcsshim's hcs/v2 notification.go).
 *
 * HCS calls them on its own threadpool; koffi queues each call to the JS
 * main thread and blocks the native thread until the JS function returns.
 * So the handlers here only decode what is valid during the call (HCS_EVENT
 * and its EventData) and hand the rest to the event loop; they never throw
 * (koffi would swallow it) and never call back into HCS synchronously.
 * They are never unregistered: a late call must find a live trampoline.
 */
import koffi from 'koffi';
import { nativeType } from './types.js';

export interface HcsEvent {
  type: number;
  data: string | null;
  operation: bigint | null;
}

class Router<A> {
  private readonly handlers = new Map<bigint, (arg: A) => void>();
  private next = 1n;

  add(handler: (arg: A) => void): bigint {
    const id = this.next++;
    this.handlers.set(id, handler);
    return id;
  }

  delete(id: bigint): void {
    this.handlers.delete(id);
  }

  get size(): number {
    return this.handlers.size;
  }

  dispatch(context: unknown, arg: A): void {
    const id = typeof context === 'bigint' ? context : typeof context === 'number' ? BigInt(context) : undefined;
    const handler = id === undefined ? undefined : this.handlers.get(id);
    if (!handler) return; // late call for a finished operation: nothing to do
    try {
      handler(arg);
    } catch {
      // a throw would be swallowed by koffi; handlers report through promises
    }
  }
}

export class CompletionRouter extends Router<bigint | null> {
  /** Pointer to pass as HCS_OPERATION_COMPLETION. */
  readonly pointer: bigint;
  constructor() {
    super();
    this.pointer = koffi.register(
      (operation: bigint | null, context: unknown) => this.dispatch(context, operation),
      koffi.pointer(nativeType('HCS_OPERATION_COMPLETION')),
    );
  }
}

export class EventRouter extends Router<HcsEvent> {
  /** Pointer to pass as HCS_EVENT_CALLBACK. */
  readonly pointer: bigint;
  constructor() {
    super();
    const eventType = nativeType('HCS_EVENT');
    this.pointer = koffi.register(
      (eventPtr: unknown, context: unknown) => {
        if (eventPtr === null || eventPtr === undefined) return;
        // Valid only during this call: decode now, EventData arrives as a string.
        const raw = koffi.decode(eventPtr, eventType) as { Type: number; EventData: string | null; Operation: bigint | null };
        this.dispatch(context, { type: raw.Type >>> 0, data: raw.EventData ?? null, operation: raw.Operation ?? null });
      },
      koffi.pointer(nativeType('HCS_EVENT_CALLBACK')),
    );
  }
}

let completions: CompletionRouter | undefined;
let events: EventRouter | undefined;

export function completionRouter(): CompletionRouter {
  return (completions ??= new CompletionRouter());
}

export function eventRouter(): EventRouter {
  return (events ??= new EventRouter());
}
