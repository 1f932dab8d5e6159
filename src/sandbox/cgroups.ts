// The cgroup manager's public entry point (its files live in ./cgroups/).
export * from './cgroups/index.js';
