/**
 * HRESULT and Win32 codes → typed errors. Callers branch on `code` and on
 * `context.name` ('HCS_E_SYSTEM_NOT_FOUND' …), never on the message.
 */
import { LcowError, type LcowErrorCode } from '../../errors.js';
import { WIN32_NAMES, hresultHex, hresultName, win32FromHresult } from '../hresult.js';

export {
  HRESULT_NAMES,
  WIN32_NAMES,
  HCS_E_OPERATION_TIMEOUT,
  HCS_E_SYSTEM_ALREADY_STOPPED,
  HCS_E_SYSTEM_NOT_FOUND,
  failed,
  hresultHex,
  hresultName,
  win32FromHresult,
} from '../hresult.js';

/** HCS's failure document (`ResultError`), kept as parsed JSON or raw text. */
function resultDetail(resultDocument: string | null | undefined): Record<string, unknown> {
  if (!resultDocument) return {};
  try {
    return { result: JSON.parse(resultDocument) as unknown };
  } catch {
    return { result: resultDocument };
  }
}

export function hresultError(
  hr: number,
  operation: string,
  context: Record<string, unknown> = {},
  resultDocument?: string | null,
  code: LcowErrorCode = 'EHCS',
): LcowError {
  const hex = hresultHex(hr);
  const name = hresultName(hr);
  const win32 = win32FromHresult(hr >>> 0);
  return new LcowError(code, `${operation} failed: ${name ?? 'HRESULT'} (${hex})`, {
    ...context,
    operation,
    hresult: hex,
    ...(name ? { name } : {}),
    ...(win32 !== undefined ? { win32 } : {}),
    ...resultDetail(resultDocument),
  });
}

/** virtdisk returns plain Win32 codes. */
export function win32Error(code: number, operation: string, context: Record<string, unknown> = {}): LcowError {
  const name = WIN32_NAMES[code];
  return new LcowError('EIO', `${operation} failed: ${name ?? 'Win32 error'} (${code})`, {
    ...context,
    operation,
    win32: code,
    ...(name ? { name } : {}),
  });
}
