export * from './show';
export * from './style';
export * from './features';
export * from './margins';
export * from './metrics';
export * from './image';
