export { CommitLog } from './log';
export type { Bytes, LogRecord, LogStats, ReadOptions, RecoveryReport } from './log';
export type { CommitLogOptions, PreallocateMode, RecoveryMode, SyncMode } from './options';
export { LogReader } from './reader';
export type { LogReaderOptions, ReaderReadOptions } from './reader';
export { LogError } from './errors';
export type { LogErrorCode } from './errors';
export { ConfigFile, writeFileDurable } from './config';
export type { ConfigFileOptions, LoadInfo, LoadSource } from './config';
