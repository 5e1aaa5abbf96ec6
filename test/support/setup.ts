// Runs in every test file: after the file's own hooks, stop any etcd it left and remove its temp dirs.
import { afterAll } from 'vitest'
import { cleanupAll } from './etcd.js'

afterAll(async () => {
  await cleanupAll()
})
