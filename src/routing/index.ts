export * from './complexity';
export * from './planner';
