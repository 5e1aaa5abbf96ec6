# node-gyp build of the optional native digest (digest.c); src/native/build.mjs runs it.
{
  "targets": [
    {
      "target_name": "etcd_inspect_native",
      "sources": ["digest.c"],
      "cflags": ["-O2", "-Wno-deprecated-declarations"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O2", "-Wno-deprecated-declarations"] }
    }
  ]
}
