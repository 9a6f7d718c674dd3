print("hebbd")
