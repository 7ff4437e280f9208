/**
 * Typed view of computecore.dll. Handles are bigint (koffi 3 pointers);
 * `Out<T>` is koffi's one-element array for an `_Out_` parameter.
 */
import type { KoffiFunc } from 'koffi';
import { COMPUTECORE } from '../../../../native-defs/computecore.js';
import { bindLibrary } from './bind.js';

export type Handle = bigint;
export type Out<T> = [T | null];
/** `void *` in, as koffi 3 takes it. */
export type Ptr = bigint | null;

export interface ComputeCoreApi {
  HcsCreateOperation: KoffiFunc<(context: Ptr, callback: Ptr) => Handle | null>;
  HcsCloseOperation: KoffiFunc<(operation: Handle) => void>;
  HcsWaitForOperationResult: KoffiFunc<(operation: Handle, timeoutMs: number, resultDocument: Out<bigint> | null) => number>;
  HcsSetOperationCallback: KoffiFunc<(operation: Handle, context: Ptr, callback: Ptr) => number>;
  HcsCancelOperation: KoffiFunc<(operation: Handle) => number>;
  HcsCreateComputeSystem: KoffiFunc<(id: string, configuration: string, operation: Handle, sd: Ptr, computeSystem: Out<Handle>) => number>;
  HcsOpenComputeSystem: KoffiFunc<(id: string, requestedAccess: number, computeSystem: Out<Handle>) => number>;
  HcsCloseComputeSystem: KoffiFunc<(computeSystem: Handle) => void>;
  HcsStartComputeSystem: KoffiFunc<(computeSystem: Handle, operation: Handle, options: string | null) => number>;
  HcsShutDownComputeSystem: KoffiFunc<(computeSystem: Handle, operation: Handle, options: string | null) => number>;
  HcsTerminateComputeSystem: KoffiFunc<(computeSystem: Handle, operation: Handle, options: string | null) => number>;
  HcsModifyComputeSystem: KoffiFunc<(computeSystem: Handle, operation: Handle, configuration: string, identity: Ptr) => number>;
  HcsGetComputeSystemProperties: KoffiFunc<(computeSystem: Handle, operation: Handle, propertyQuery: string | null) => number>;
  HcsSetComputeSystemCallback: KoffiFunc<(computeSystem: Handle, options: number, context: Ptr, callback: Ptr) => number>;
  /** Server 2022+; undefined where the export is missing. */
  HcsWaitForComputeSystemExit?: KoffiFunc<(computeSystem: Handle, timeoutMs: number, result: Out<bigint> | null) => number>;
  HcsEnumerateComputeSystems: KoffiFunc<(query: string | null, operation: Handle) => number>;
  HcsGrantVmAccess: KoffiFunc<(vmId: string, filePath: string) => number>;
}

export function loadComputeCore(path: string): ComputeCoreApi {
  return bindLibrary(path, COMPUTECORE) as unknown as ComputeCoreApi;
}

/** HCS_EVENT_TYPE values used here (HCS_EVENT_TYPE.md). */
export const HcsEventType = {
  SystemExited: 0x00000001,
  SystemCrashInitiated: 0x00000002,
  SystemCrashReport: 0x00000003,
  SystemGuestConnectionClosed: 0x00000006,
  OperationCallback: 0x01000000,
  ServiceDisconnect: 0x02000000,
} as const;

/** HCS_EVENT_OPTIONS: operations here carry their own callbacks, so never EnableOperationCallbacks. */
export const HCS_EVENT_OPTION_NONE = 0;
export const GENERIC_ALL = 0x10000000;
