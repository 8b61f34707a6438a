from ida_cli.cli import main

main()
