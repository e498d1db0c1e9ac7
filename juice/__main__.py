from juice.cli import main

main()
