import AugurLoadCLI

AugurLoad.main()
