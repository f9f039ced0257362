// The public API of spate: re-exports only.
export type { CheckpointRecord, CheckpointStore } from "./checkpoint/CheckpointStore.js";
export type { RegisteredClass } from "./checkpoint/classes.js";
export type { CreateJob, JobArgs, JobModule } from "./job.js";
export { FileCheckpointStore } from "./checkpoint/FileCheckpointStore.js";
export {
  JetStreamCheckpointStore,
  type JetStreamCheckpointStoreOptions,
  type JetStreamSinkOptions,
  type NatsConnectionOptions,
  type NatsJetStreamOptions,
  type NatsMessage,
  jetStreamCheckpointStore,
  natsJetStream,
  publishToJetStream,
  type RecordPosition,
} from "./connectors/nats/index.js";
export { SETTINGS, SpateConf } from "./config.js";
export {
  DStream,
  type KeyedWindowReduceOptions,
  MapWithStateDStream,
  type UpdateStateOptions,
  type WindowReduceOptions,
} from "./DStream.js";
export type { FileStreamOptions } from "./dstream/FileInputOp.js";
export type { StateCodec } from "./dstream/Operator.js";
export type { Queue } from "./dstream/QueueInputOp.js";
export type { UpdateFunction } from "./dstream/StateOp.js";
export {
  AsyncFunctionError,
  CheckpointCorruptError,
  CheckpointFencedError,
  type CheckpointHolder,
  CheckpointLockedError,
  ConfigError,
  GraphMismatchError,
  GraphNotRebuildableError,
  IllegalStateError,
  InvalidArgumentError,
  InvalidDurationError,
  InvalidKeyError,
  SpateError,
  type SpateErrorCode,
  StateError,
  StateNotSerializableError,
  StateTooLargeError,
  UserFunctionError,
} from "./errors.js";
export type { Logger } from "./log.js";
export { HashPartitioner, type Partitioner } from "./rdd/Partitioner.js";
export { RDD } from "./rdd/RDD.js";
export { Receiver } from "./receiver/Receiver.js";
export { SocketReceiver } from "./receiver/SocketReceiver.js";
export type {
  BatchInfo,
  CheckpointInfo,
  InputRecoveryInfo,
  OutputOperationInfo,
  ReceiverInfo,
  RestoredFromInfo,
  StreamingListener,
} from "./scheduler/StreamingListener.js";
export { type MappingFunction, type State, StateSpec } from "./State.js";
export { lmdbStateBackend } from "./state/LmdbStateStore.js";
export {
  memoryStateBackend,
  type StateBackend,
  type StateBackendEnv,
  type StateChanges,
  type StateEntry,
  type StateSnapshot,
  type StateStore,
  type StateStoreOptions,
  type StateStoreProvider,
  type StateValue,
} from "./state/StateStore.js";
export {
  StreamingContext,
  type StreamingContextOptions,
  type StreamingContextState,
} from "./StreamingContext.js";
export { type Clock, ManualClock, Milliseconds, Minutes, Seconds, SystemClock } from "./time.js";
