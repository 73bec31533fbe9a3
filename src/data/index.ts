export * from './idx';
export * from './dataset';
export * from './pairs';
export * from './faces';
export * from './glyphs';
export * from './named';
