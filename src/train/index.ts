export * from './trainer';
export * from './checkpoint';
export * from './progress';
export * from './options';
export { CheckpointSchemaError, CHECKPOINT_LIMITS } from './checkpoint-schema';
