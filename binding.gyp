# A thin shim so that tools expecting node-gyp end up in the one real build description
# (CMakeLists.txt, driven by scripts/build.js).
{
  "targets": [
    {
      "target_name": "cycletls_native",
      "type": "none",
      "actions": [
        {
          "action_name": "cmake_build",
          "inputs": ["CMakeLists.txt"],
          "outputs": ["build/Release/cycletls_native.node"],
          "action": ["node", "scripts/build.js"]
        }
      ]
    }
  ]
}
