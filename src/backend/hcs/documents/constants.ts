/**
 * Fixed values of the LCOW schema-v2 documents, as hcsshim emits them.
 */
import { LCOW_LIMITS, type BackendLimits } from '../../contract.js';

/** Schema 2.1: what hcsshim's MakeLCOWDoc sends for a non-confidential LCOW UVM. */
export const SCHEMA_VERSION = { Major: 2, Minor: 1 } as const;

/**
 * SCSI controller keys, by controller index. hcsshim uses these v5 GUIDs
 * (internal/protocol/guestrequest/types.go) and its guest maps them back to
 * SCSI host numbers, so a GCS-based guest only finds disks on controllers
 * named exactly so. HCS itself accepts any unique name.
 */
export const SCSI_CONTROLLER_GUIDS = [
  'df6d0690-79e5-55b6-a5ec-c1e2f77f580a',
  '0110f83b-de10-5172-a266-78bca56bf50a',
  'b5d2d8d4-3a75-51bf-945b-3444dc6b8579',
  '305891a9-b251-5dfe-91a2-c25d9212275b',
] as const;

/** HCS gives an LCOW VM hcsshim's hardware; SCSI_CONTROLLER_GUIDS names each of its controllers. */
export const HCS_LIMITS: BackendLimits = LCOW_LIMITS;

/** hvsock binds allowed for SYSTEM and Administrators only (hcsshim's default). */
export const HVSOCKET_DEFAULT_BIND_SD = 'D:P(A;;FA;;;SY)(A;;FA;;;BA)';

/** Guest command after `--` on the kernel command line: vsockexec forwards entropy (port 1) and GCS logs (port 109). */
export const DEFAULT_GCS_COMMAND = '/bin/vsockexec -e 109 /bin/gcs -v4 -log-format json';
