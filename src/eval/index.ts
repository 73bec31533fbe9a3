export * from './metrics';
export * from './report';
