# The optional native kernels (native/README.md). Built by scripts/build-native.mjs at install;
# OpenSSL headers come from Node's own include folder (node-gyp adds it) and the symbols from the
# node binary itself, so nothing but a C++ compiler is needed.
{
  "targets": [
    {
      "target_name": "nimbus_kernels",
      "sources": [
        "native/src/addon.cc",
        "native/src/PacketKey.cc",
        "native/src/aesMultiBuffer.cc",
        "native/src/optionPackets.cc",
        "native/src/rtmfpKernels.cc",
        "native/src/socketHandover.cc",
        "native/src/streamWrite.cc",
        "native/src/udpSend.cc",
        "native/src/udpReceive.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "OPENSSL_API_COMPAT=0x10100000L"
      ],
      "cflags_cc": ["-O3", "-fvisibility=hidden"],
      "xcode_settings": {
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
        "OTHER_CPLUSPLUSFLAGS": ["-O3"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "ExceptionHandling": 0 }
      }
    }
  ]
}
