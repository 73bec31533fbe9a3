export * from './trainer';
export * from './checkpoint';
export * from './progress';
export { CheckpointSchemaError, CHECKPOINT_LIMITS } from './checkpoint-schema';
