export * from './client';
export * from './discovery';
export * from './errors';
export * from './launcher';
export * from './sources';
export * from './follow';
export * from './devLoop';
export * from './logLines';
